// clock.hpp: monotonic nanoseconds, the one time base of a run.
#pragma once

#include <cstdint>
#include <ctime>

namespace wsbench {

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace wsbench
