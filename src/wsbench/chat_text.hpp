// chat_text.hpp: the text of wsbench's chat messages. Each one names its
// sender, its sequence number and its send time, so whoever receives it can
// check it and time it without asking anyone; the padding after them is a
// function of sender and sequence, so a line mixed from two messages shows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wsbench {

// "m<sender>.<seq>.<send_ns>", then a space and padding up to `size` bytes
// when there is room. Never holds LF, NUL or CR, never begins like a server
// notice (OK, ERR) or a command (exit, quit).
std::string chat_message(uint32_t sender, uint32_t seq, int64_t send_ns, size_t size);

// "h<sender>": a client's announcement during the join.
std::string chat_hello(uint32_t sender);

struct ChatLine {
  enum class Kind { message, hello, notice, bad } kind = Kind::bad;
  uint32_t sender = 0;
  uint32_t seq = 0;
  int64_t send_ns = 0;
};

// What a delivered line (terminator removed) is. Only the fields are read:
// a message's padding is checked by comparing with chat_message().
ChatLine parse_chat_line(std::string_view line);

}  // namespace wsbench
