// payload.hpp: the messages wsbench sends and the replies it expects back.
// The expected reply is computed here, independently of the server's code,
// so that a bug in the server's strip cannot hide behind the same bug here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsbench {

// One message as it goes on the wire: `body` sent `repeats` times, then the
// terminator. A bulk message repeats a 64 KiB pattern; a small one has
// repeats == 1. The expected reply is `reply` the same number of times, then
// one NUL (reply_end). With --websocket both are frames (ws_wire.hpp).
struct Message {
  std::string body;  // never holds LF or NUL, unless it is a frame
  uint64_t repeats = 1;
  char terminator = '\n';
  std::string reply;  // `body` as the strip service must answer it
  char reply_end = '\0';

  uint64_t wire_size() const { return body.size() * repeats + 1; }
  uint64_t reply_size() const { return reply.size() * repeats + 1; }
};

// What the strip service answers for `text` (without the reply terminator).
std::string expected_reply(std::string_view text);

// Small messages of `size` bytes each: letters and digits mixed with every
// white-space byte that is not a terminator (space, \t, \v, \f, \r) and bytes
// >= 0x80. Ends alternate between LF and NUL. None strips to exit or quit.
std::vector<Message> make_messages(size_t size, size_t how_many, uint64_t seed);

// One message of `bytes` bytes (rounded down to whole 64 KiB patterns, at
// least one) without a terminator inside, then LF.
Message make_bulk_message(uint64_t bytes, uint64_t seed);

}  // namespace wsbench
