#include "wsserver/utf8.hpp"

namespace ws {

// The table of RFC 3629 section 4: C0, C1 and F5..FF never occur; E0 and
// F0 are followed by what excludes overlongs, ED by what excludes
// surrogates, F4 by what stays within U+10FFFF.
bool Utf8Validator::start(uint8_t byte) {
  low_ = 0x80, high_ = 0xbf;
  if (byte < 0x80) return true;
  if (byte < 0xc2 || byte > 0xf4) return false;
  need_ = byte < 0xe0 ? 1 : byte < 0xf0 ? 2 : 3;
  if (byte == 0xe0) low_ = 0xa0;
  else if (byte == 0xed) high_ = 0x9f;
  else if (byte == 0xf0) low_ = 0x90;
  else if (byte == 0xf4) high_ = 0x8f;
  return true;
}

bool Utf8Validator::feed(uint8_t byte) {
  if (!valid_) return false;
  if (need_ == 0) return valid_ = start(byte);
  if (byte < low_ || byte > high_) return valid_ = false;
  low_ = 0x80, high_ = 0xbf;
  --need_;
  return true;
}

bool Utf8Validator::feed(std::string_view bytes) {
  for (char c : bytes)
    if (!feed(static_cast<uint8_t>(c))) return false;
  return valid_;
}

bool valid_utf8(std::string_view text) {
  Utf8Validator v;
  return v.feed(text) && v.complete();
}

size_t utf8_char_length(std::string_view text) {
  if (text.empty()) return 0;
  auto lead = static_cast<uint8_t>(text[0]);
  size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  if (length > text.size()) return 0;
  Utf8Validator v;
  return v.feed(text.substr(0, length)) && v.complete() ? length : 0;
}

}  // namespace ws
