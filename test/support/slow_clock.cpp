// A preload library for tests that must drive the server into a window it
// keeps open only briefly (an overflow client held 200 ms, say): the
// monotonic clock, by which the server times everything, runs 50 times
// slower, so the window stays open for seconds and the test reaches it
// every time instead of racing for it. The wall clock is left alone.
#include <dlfcn.h>
#include <time.h>

namespace {

constexpr long long slowdown = 50;
constexpr long long ns_per_s = 1000000000;

using ClockGettime = int (*)(clockid_t, timespec*);

long long nanoseconds(const timespec& ts) { return ts.tv_sec * ns_per_s + ts.tv_nsec; }

}  // namespace

extern "C" int clock_gettime(clockid_t id, timespec* ts) {
  static auto real = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  int rc = real(id, ts);
  if (rc != 0 || id != CLOCK_MONOTONIC) return rc;
  // Slowed from the first reading, taken by the master before it forks, so
  // every worker shares the master's slowed time.
  static const long long origin = nanoseconds(*ts);
  long long slowed = origin + (nanoseconds(*ts) - origin) / slowdown;
  ts->tv_sec = static_cast<time_t>(slowed / ns_per_s);
  ts->tv_nsec = static_cast<long>(slowed % ns_per_s);
  return 0;
}
