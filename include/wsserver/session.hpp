// session.hpp: the middle layer of a connection (transport.hpp shows them
// all), independent of sockets. Frames messages at LF or NUL whatever the TCP
// split (or takes them whole from a transport that frames them), handles the
// commands every service shares (exit, quit, AUTH) and the limits, and passes
// every other message to the service as it streams in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/service.hpp"

namespace ws {

enum class Command { none, exit, auth };

// Recognises a possible command one byte at a time, so that a command split
// over packets is found without buffering more than the command itself:
// "exit" or "quit" (any case) with optional surrounding white space, and,
// when authentication is on, "AUTH <secret>".
class CommandMatcher {
 public:
  explicit CommandMatcher(bool auth = false) : auth_(auth) {}
  // Feeds message bytes; false once the message can no longer be a command.
  bool feed(std::string_view bytes);
  void reset() { *this = CommandMatcher(auth_); }

 private:
  enum class Phase { lead, word, trail, secret, no } phase_ = Phase::lead;
  bool auth_;
  char word_[4] = {};
  int length_ = 0;
};

// What a whole message asks for; *secret gets AUTH's argument.
Command classify(std::string_view message, bool auth, std::string_view* secret);
// Compares in time that depends on the secret's length only.
bool secret_matches(std::string_view given, std::string_view secret);

struct SessionLimits {
  size_t max_message = 65536;       // bytes held for a command or a whole message
  const std::string* secret = nullptr;  // set: clients must AUTH first
};

class Session {
 public:
  // Messages answered before AUTH; the last of them ends the connection, so
  // that a flood of terminators cannot make a stranger's flood of notices.
  static constexpr int max_unauthenticated_replies = 3;

  enum class Step {
    more,         // everything was handled
    leave,        // the client asked to leave (exit, quit)
    auth_failed,  // a wrong secret: delay, then reply, then call receive() with the rest
    unauthenticated,  // the last message allowed before AUTH was answered: close
  };
  struct Result {
    Step step;
    size_t consumed;  // bytes handled; the caller passes the rest again
  };

  Session(Service& service, const SessionLimits& limits);

  // Handles bytes of the client's stream, framed at terminators, appending
  // replies to `out`.
  Result receive(std::string_view bytes, Replies& out);
  // For a transport that frames messages itself (WebSocket): the next part
  // of a message, and whether it ends it. Terminator bytes in it are text.
  Step message_part(std::string_view part, bool last, Replies& out);
  // The client closed its side: a pending unterminated message is answered
  // (its step: leave for exit or quit, auth_failed for a wrong secret).
  Step finish(Replies& out);
  // Writes a server notice ("ERR idle timeout") as one reply.
  static void notice(std::string_view text, Replies& out);

  uint64_t messages() const { return messages_; }
  int auth_failures() const { return auth_failures_; }
  // Notices sent so far: "ERR message too long", "ERR authentication required".
  uint64_t too_long_notices() const { return too_long_notices_; }
  uint64_t auth_required_notices() const { return auth_required_notices_; }
  bool authenticated() const { return authenticated_; }
  // Bytes received since the last terminator (a message is in progress).
  bool in_message() const { return in_message_; }
  // Bytes of the message in progress received so far, kept or not.
  uint64_t message_bytes() const { return message_bytes_; }
  // Bytes kept back for a possible command or a whole message; never more
  // than max_message (the fuzzer checks that bound).
  size_t held_bytes() const { return held_.size(); }

 private:
  void take_part(std::string_view part, Replies& out);
  Step end_message(Replies& out);
  Step run_command(Command command, std::string_view secret, Replies& out);
  void reset_message();

  Service& service_;
  SessionLimits limits_;
  CommandMatcher matcher_;
  bool authenticated_;
  bool deciding_ = true;     // the message might still be a command
  bool too_long_ = false;    // a whole message needed and it outgrew max_message
  bool in_message_ = false;
  std::string held_;         // raw bytes of a possible command or a whole message
  uint64_t messages_ = 0;
  int auth_failures_ = 0;
  int unauthenticated_replies_ = 0;
  uint64_t too_long_notices_ = 0;
  uint64_t auth_required_notices_ = 0;
  uint64_t message_bytes_ = 0;
};

}  // namespace ws
