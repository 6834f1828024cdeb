// utf8.hpp: a streaming UTF-8 validator (RFC 3629 section 4's syntax), fed
// one byte at a time so a text message can be checked as its fragments
// arrive (RFC 6455 section 8.1): overlong forms, surrogates (U+D800 to
// U+DFFF) and code points past U+10FFFF are refused at their first byte
// that cannot belong to a valid sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ws {

class Utf8Validator {
 public:
  // False once the bytes so far cannot start any valid text; stays false.
  bool feed(uint8_t byte);
  bool feed(std::string_view bytes);
  // True when the bytes so far are valid and end on a character's end.
  bool complete() const { return valid_ && need_ == 0; }
  bool valid() const { return valid_; }

 private:
  bool start(uint8_t byte);

  bool valid_ = true;
  int need_ = 0;  // continuation bytes still due
  // The range the next continuation byte must fall in: narrower than
  // 80..BF only for the second byte after E0, ED, F0 and F4.
  uint8_t low_ = 0x80, high_ = 0xbf;
};

bool valid_utf8(std::string_view text);
// The length of the well-formed character `text` starts with, or 0 if it
// starts with none (a byte a decoder would replace with U+FFFD).
size_t utf8_char_length(std::string_view text);

}  // namespace ws
