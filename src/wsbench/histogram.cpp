#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace wsbench {

// Values below 2^sub_bits have a bucket each; above, every power of two is
// split into `half` buckets by its top sub_bits bits.
size_t Histogram::index_of(uint64_t ns) {
  if (ns < (uint64_t{1} << sub_bits)) return static_cast<size_t>(ns);
  int msb = 63 - __builtin_clzll(ns);
  int shift = msb - (sub_bits - 1);
  return static_cast<size_t>(shift) * half + static_cast<size_t>(ns >> shift);
}

// The middle of the bucket.
uint64_t Histogram::value_of(size_t index) {
  if (index < (size_t{1} << sub_bits)) return index;
  int shift = static_cast<int>(index / half) - 1;
  uint64_t low = static_cast<uint64_t>(index % half + half) << shift;
  return low + ((uint64_t{1} << shift) >> 1);
}

void Histogram::record(uint64_t ns) {
  ++counts_[index_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(value_of(i), max_);
  }
  return max_;
}

}  // namespace wsbench
