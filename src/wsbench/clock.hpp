// clock.hpp: monotonic nanoseconds, the one time base of a run, and the CPU
// time wsbench itself uses.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <ctime>

namespace wsbench {

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// User + system seconds of this process, all threads.
inline double cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

}  // namespace wsbench
