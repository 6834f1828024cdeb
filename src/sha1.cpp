#include "wsserver/sha1.hpp"

#include <cstring>

namespace ws {
namespace {

uint32_t rotl(uint32_t x, int n) { return x << n | x >> (32 - n); }

uint32_t round_function(int t, uint32_t b, uint32_t c, uint32_t d) {
  if (t < 20) return (b & c) | (~b & d);
  if (t < 40 || t >= 60) return b ^ c ^ d;
  return (b & c) | (b & d) | (c & d);
}

constexpr uint32_t round_constant[4] = {0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6};

void process_block(std::array<uint32_t, 5>& h, const uint8_t* block) {
  uint32_t w[80];
  for (int t = 0; t < 16; ++t)
    w[t] = uint32_t{block[4 * t]} << 24 | uint32_t{block[4 * t + 1]} << 16 | uint32_t{block[4 * t + 2]} << 8 |
           block[4 * t + 3];
  for (int t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; ++t) {
    uint32_t temp = rotl(a, 5) + round_function(t, b, c, d) + e + w[t] + round_constant[t / 20];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = temp;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

// The message's tail, the 0x80 byte, zeros and the 64-bit bit length: one
// block, or two when fewer than 9 bytes are left after the tail.
size_t pad_tail(const uint8_t* tail, size_t n, uint64_t total, uint8_t* out) {
  size_t blocks = n + 9 <= 64 ? 1 : 2;
  std::memset(out, 0, 64 * blocks);
  std::memcpy(out, tail, n);
  out[n] = 0x80;
  uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) out[64 * blocks - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  return blocks;
}

}  // namespace

std::array<uint8_t, 20> sha1(std::string_view message) {
  std::array<uint32_t, 5> h = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  const auto* p = reinterpret_cast<const uint8_t*>(message.data());
  size_t full = message.size() / 64 * 64;
  for (size_t at = 0; at < full; at += 64) process_block(h, p + at);
  uint8_t last[128];
  size_t blocks = pad_tail(p + full, message.size() - full, message.size(), last);
  for (size_t i = 0; i < blocks; ++i) process_block(h, last + 64 * i);
  std::array<uint8_t, 20> digest;
  for (int i = 0; i < 20; ++i) digest[i] = static_cast<uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  return digest;
}

}  // namespace ws
