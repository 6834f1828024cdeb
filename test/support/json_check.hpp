// json_check.hpp: a strict reader of one flat JSON object (RFC 8259: string
// keys; string or number values), for the tests and the fuzz target of the
// JSON access log. Strings come back decoded; numbers as their text.
#pragma once

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wsserver/utf8.hpp"

namespace test {

using JsonFields = std::vector<std::pair<std::string, std::string>>;

class FlatJsonReader {
 public:
  explicit FlatJsonReader(std::string_view text) : s_(text) {}

  std::optional<JsonFields> read() {
    if (!ws::valid_utf8(s_) || !take('{')) return std::nullopt;
    JsonFields fields;
    for (bool first = true; !take('}'); first = false) {
      if (!first && !take(',')) return std::nullopt;
      auto key = string();
      if (!key || !take(':')) return std::nullopt;
      auto value = at_ < s_.size() && s_[at_] == '"' ? string() : number();
      if (!value) return std::nullopt;
      fields.emplace_back(std::move(*key), std::move(*value));
    }
    if (at_ != s_.size()) return std::nullopt;
    return fields;
  }

 private:
  bool take(char c) {
    if (at_ >= s_.size() || s_[at_] != c) return false;
    ++at_;
    return true;
  }

  std::optional<std::string> number() {
    size_t start = at_;
    while (at_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[at_])) || s_[at_] == '.' || s_[at_] == '-')) ++at_;
    if (at_ == start) return std::nullopt;
    return std::string(s_.substr(start, at_ - start));
  }

  std::optional<std::string> string() {
    if (!take('"')) return std::nullopt;
    std::string out;
    while (at_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[at_++]);
      if (c == '"') return out;
      if (c < 0x20) return std::nullopt;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (at_ >= s_.size() || !escape(out)) return std::nullopt;
    }
    return std::nullopt;
  }

  bool escape(std::string& out) {
    char e = s_[at_++];
    const std::string_view simple = "\"\\/bfnrt", meaning = "\"\\/\b\f\n\r\t";
    if (size_t i = simple.find(e); i != simple.npos) {
      out += meaning[i];
      return true;
    }
    if (e != 'u' || at_ + 4 > s_.size()) return false;
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[at_++];
      int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (v < 0) return false;
      code = code * 16 + static_cast<unsigned>(v);
    }
    if (code >= 0xd800 && code <= 0xdfff) return false;  // the escaper never writes surrogates
    append_utf8(out, code);
    return true;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | code >> 6);
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xe0 | code >> 12);
      out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  std::string_view s_;
  size_t at_ = 0;
};

inline std::optional<JsonFields> read_flat_json(std::string_view text) { return FlatJsonReader(text).read(); }

}  // namespace test
