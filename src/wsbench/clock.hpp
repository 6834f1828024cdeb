// clock.hpp: monotonic nanoseconds, the one time base of a run, waits
// against it, and the CPU time wsbench itself uses.
#pragma once

#include <poll.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace wsbench {

inline int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Waits for `events` on `fd` until `deadline_ns`; false on timeout or error.
inline bool wait_for(int fd, short events, int64_t deadline_ns) {
  for (;;) {
    int64_t left_ms = (deadline_ns - now_ns() + 999999) / 1000000;
    if (left_ms <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left_ms));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// User + system seconds of this process, all threads.
inline double cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

}  // namespace wsbench
