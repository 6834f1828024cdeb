#include "fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace wsbench {

bool ensure_fd_limit(long needed, std::string* error) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    *error = std::string("getrlimit(RLIMIT_NOFILE) failed: ") + std::strerror(errno);
    return false;
  }
  auto want = static_cast<rlim_t>(needed);
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= want) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) {
    *error = "needs " + std::to_string(needed) + " descriptors, but the hard limit (ulimit -Hn) is " +
             std::to_string(limit.rlim_max);
    return false;
  }
  limit.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    *error = std::string("setrlimit(RLIMIT_NOFILE) failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace wsbench
