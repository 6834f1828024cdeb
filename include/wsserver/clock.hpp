// clock.hpp: the two clocks wsserver reads, in milliseconds. The monotonic
// one times things (deadlines, ages); the wall clock is only shown (logs,
// status). Both are vDSO calls: no system call on the hot path.
#pragma once

#include <cstdint>
#include <ctime>

namespace ws {

inline int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t wall_clock_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace ws
