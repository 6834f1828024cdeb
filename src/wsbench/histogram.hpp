// histogram.hpp: latencies in nanoseconds, log-linear buckets (under 1 %
// error), so a run of any length keeps a fixed 30 KiB per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace wsbench {

class Histogram {
 public:
  void record(uint64_t ns);
  void merge(const Histogram& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The value below which a fraction `q` (0..1) of the samples fall.
  uint64_t quantile(double q) const;

 private:
  static constexpr int sub_bits = 7;
  static constexpr int half = 1 << (sub_bits - 1);
  static constexpr size_t buckets = (64 - sub_bits + 2) * half;
  static size_t index_of(uint64_t ns);
  static uint64_t value_of(size_t index);

  std::array<uint64_t, buckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace wsbench
