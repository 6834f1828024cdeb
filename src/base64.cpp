#include "wsserver/base64.hpp"

#include <cstdint>

namespace ws {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c) {
  size_t at = alphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// One quantum of 4 characters, `pads` of them '=' at its end.
bool decode_quantum(std::string_view q, size_t pads, std::string& out) {
  uint32_t bits = 0;
  for (size_t i = 0; i < 4 - pads; ++i) {
    int v = value_of(q[i]);
    if (v < 0) return false;
    bits |= static_cast<uint32_t>(v) << (18 - 6 * i);
  }
  size_t bytes = 3 - pads;
  if ((bits & ((1u << (8 * (3 - bytes))) - 1)) != 0) return false;
  for (size_t i = 0; i < bytes; ++i) out += static_cast<char>(bits >> (16 - 8 * i));
  return true;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t at = 0; at < bytes.size(); at += 3) {
    size_t n = std::min<size_t>(3, bytes.size() - at);
    uint32_t bits = 0;
    for (size_t i = 0; i < n; ++i) bits |= uint32_t{static_cast<uint8_t>(bytes[at + i])} << (16 - 8 * i);
    for (size_t i = 0; i < 4; ++i) out += i <= n ? alphabet[bits >> (18 - 6 * i) & 0x3f] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t at = 0; at < text.size(); at += 4) {
    std::string_view q = text.substr(at, 4);
    size_t pads = q[3] != '=' ? 0 : q[2] != '=' ? 1 : 2;
    if (pads > 0 && at + 4 != text.size()) return std::nullopt;
    if (!decode_quantum(q, pads, out)) return std::nullopt;
  }
  return out;
}

}  // namespace ws
