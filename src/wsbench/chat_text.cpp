#include "chat_text.hpp"

#include <charconv>

namespace wsbench {
namespace {

constexpr std::string_view letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

// Reads decimal digits up to `stop` (or the end when stop is 0); false if
// there are none or something else comes first.
template <typename Int>
bool take_number(std::string_view& text, char stop, Int* value) {
  const char* end = text.data() + text.size();
  auto [at, ec] = std::from_chars(text.data(), end, *value);
  if (ec != std::errc() || at == text.data()) return false;
  if (stop != 0) {
    if (at == end || *at != stop) return false;
    ++at;
  }
  text.remove_prefix(static_cast<size_t>(at - text.data()));
  return true;
}

}  // namespace

std::string chat_message(uint32_t sender, uint32_t seq, int64_t send_ns, size_t size) {
  std::string text = "m" + std::to_string(sender) + "." + std::to_string(seq) + "." + std::to_string(send_ns);
  if (size <= text.size() + 1) return text;
  text.push_back(' ');
  size_t start = sender * 131u + seq * 17u;
  while (text.size() < size) text.push_back(letters[(start + text.size()) % letters.size()]);
  return text;
}

std::string chat_hello(uint32_t sender) { return "h" + std::to_string(sender); }

ChatLine parse_chat_line(std::string_view line) {
  ChatLine out;
  if (line.starts_with("ERR ") || line.starts_with("OK")) {
    out.kind = ChatLine::Kind::notice;
    return out;
  }
  if (line.empty()) return out;
  char kind = line.front();
  line.remove_prefix(1);
  if (kind == 'h') {
    if (take_number(line, 0, &out.sender) && line.empty()) out.kind = ChatLine::Kind::hello;
    return out;
  }
  if (kind != 'm' || !take_number(line, '.', &out.sender) || !take_number(line, '.', &out.seq) ||
      !take_number(line, 0, &out.send_ns))
    return out;
  if (line.empty() || line.front() == ' ') out.kind = ChatLine::Kind::message;
  return out;
}

}  // namespace wsbench
