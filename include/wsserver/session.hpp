// session.hpp: one client's byte stream, independent of sockets. Frames
// messages at LF or NUL whatever the TCP split, recognises the exit and quit
// commands, and passes every other message to the service as it streams in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/service.hpp"

namespace ws {

// Recognises "exit" or "quit" (any case) with optional surrounding white
// space, one byte at a time, so that a command split over packets is found
// without buffering more than the command itself.
class CommandMatcher {
 public:
  // Feeds message bytes; false once the message can no longer be a command.
  bool feed(std::string_view bytes);
  // At the end of a message: was it a command?
  bool matched() const;
  void reset() { *this = CommandMatcher(); }

 private:
  enum class Phase { lead, word, trail, no } phase_ = Phase::lead;
  char word_[4] = {};
  int length_ = 0;
};

class Session {
 public:
  // `max_message` bounds the bytes held while a message may still be a command.
  Session(Service& service, std::string_view terminator, size_t max_message);

  // Handles bytes from the client, appending replies to `out`. Returns false
  // when the client asked to leave; bytes after the command are ignored.
  bool receive(std::string_view bytes, std::string& out);
  // The client closed its side: a pending unterminated message is answered.
  // Returns false if that message was exit or quit.
  bool finish(std::string& out);
  // Appends a server notice ("ERR idle timeout") and the terminator.
  void notice(std::string_view text, std::string& out) const;

  uint64_t messages() const { return messages_; }
  // Bytes received since the last terminator (a message is in progress).
  bool in_message() const { return in_message_; }

 private:
  void take_part(std::string_view part, std::string& out);
  bool end_message(std::string& out);

  Service& service_;
  std::string_view terminator_;
  size_t max_message_;
  CommandMatcher matcher_;
  bool deciding_ = true;  // the message might still be a command
  bool in_message_ = false;
  std::string held_;      // raw bytes of a possible command
  uint64_t messages_ = 0;
};

}  // namespace ws
