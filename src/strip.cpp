// The strip rule: drop space, \t, \n, \v, \f and \r; keep every other byte.
// A portable branch-free loop, and a 16-bytes-at-a-time version for CPUs
// with SSSE3 (chosen once at run time), so that stripping stays far faster
// than loopback can deliver bytes.
#include <immintrin.h>

#include <array>
#include <cstdint>

#include "wsserver/strip.hpp"

namespace ws {
namespace {

constexpr std::array<unsigned char, 256> make_keep_table() {
  std::array<unsigned char, 256> keep{};
  for (auto& k : keep) k = 1;
  for (unsigned char c : {' ', '\t', '\n', '\v', '\f', '\r'}) keep[c] = 0;
  return keep;
}
constexpr auto keep_table = make_keep_table();

// Every byte is stored, and the cursor only moves past kept ones.
char* strip_scalar(const unsigned char* in, size_t n, char* dest) {
  for (size_t i = 0; i < n; ++i) {
    *dest = static_cast<char>(in[i]);
    dest += keep_table[in[i]];
  }
  return dest;
}

// For each 8-bit mask of bytes to drop: the shuffle that packs the kept
// bytes of 8 to the front, and how many there are.
struct Packing {
  alignas(16) std::array<std::array<uint8_t, 16>, 256> shuffle{};
  std::array<uint8_t, 256> kept{};
  constexpr Packing() {
    for (int mask = 0; mask < 256; ++mask) {
      int k = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (!(mask & (1 << bit))) shuffle[mask][k++] = static_cast<uint8_t>(bit);
      kept[mask] = static_cast<uint8_t>(k);
      for (int rest = k; rest < 16; ++rest) shuffle[mask][rest] = 0x80;  // zero
    }
  }
};
constexpr Packing packing;

__attribute__((target("ssse3"))) char* strip_ssse3(const unsigned char* in, size_t n, char* dest) {
  const __m128i space = _mm_set1_epi8(' ');
  // \t..\r are 9..13: shifted by -9 they are the only bytes below 5, unsigned.
  const __m128i nine = _mm_set1_epi8(9), four = _mm_set1_epi8(4);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    __m128i shifted = _mm_sub_epi8(v, nine);
    __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(shifted, four), shifted);
    unsigned drop = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(v, space))));
    if (drop == 0) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dest), v);
      dest += 16;
      continue;
    }
    unsigned lo = drop & 0xff, hi = drop >> 8;
    __m128i packed_lo = _mm_shuffle_epi8(v, _mm_load_si128(reinterpret_cast<const __m128i*>(packing.shuffle[lo].data())));
    __m128i packed_hi = _mm_shuffle_epi8(_mm_srli_si128(v, 8),
                                         _mm_load_si128(reinterpret_cast<const __m128i*>(packing.shuffle[hi].data())));
    // Each half is written whole (8 bytes); only its kept bytes count.
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dest), packed_lo);
    dest += packing.kept[lo];
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dest), packed_hi);
    dest += packing.kept[hi];
  }
  return strip_scalar(in + i, n - i, dest);
}

using StripFn = char* (*)(const unsigned char*, size_t, char*);
const StripFn strip_fn = __builtin_cpu_supports("ssse3") ? strip_ssse3 : strip_scalar;

}  // namespace

bool is_strip_space(unsigned char c) { return keep_table[c] == 0; }

size_t strip_append(std::string_view in, std::string& out) {
  size_t start = out.size();
  // Room for whole 8-byte stores past the last kept byte.
  out.resize(start + in.size() + 16);
  char* begin = out.data() + start;
  char* end = strip_fn(reinterpret_cast<const unsigned char*>(in.data()), in.size(), begin);
  size_t kept = static_cast<size_t>(end - begin);
  out.resize(start + kept);
  return kept;
}

size_t strip_append_portable(std::string_view in, std::string& out) {
  size_t start = out.size();
  out.resize(start + in.size());
  char* begin = out.data() + start;
  size_t kept = static_cast<size_t>(strip_scalar(reinterpret_cast<const unsigned char*>(in.data()), in.size(), begin) - begin);
  out.resize(start + kept);
  return kept;
}

}  // namespace ws
