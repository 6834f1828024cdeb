// auth_limit.hpp: failed AUTH attempts per client address, shared by every
// worker, so that a guesser gains nothing by reconnecting or by landing on
// another worker (SPEC section 15, auth_max_failures).
//
// A fixed table in anonymous shared memory that the master maps before it
// forks; workers update it under a robust process-shared mutex, so a worker
// killed while holding it blocks nobody. The master never reads it. When the
// table is full, the entry heard from longest ago gives way.
#pragma once

#include <cstdint>

#include "wsserver/cidr.hpp"

namespace ws {

class AuthLimit {
 public:
  static constexpr int entries = 1024;
  // Failures are counted over this window, and an address that exceeds the
  // limit is refused for as long.
  static constexpr int64_t window_ms = 60000;

  // Throws std::system_error if the mapping or the mutex cannot be set up.
  static AuthLimit create();

  AuthLimit() = default;
  AuthLimit(AuthLimit&& other) noexcept;
  AuthLimit& operator=(AuthLimit&& other) noexcept;
  ~AuthLimit();

  // Counts a failed AUTH from `ip` at `now_ms` (monotonic). True if the
  // address is refused from now on, or already was; *started is set when
  // this very failure began the refusal, so that it is logged once.
  // Unix socket clients (AF_UNSPEC) are not counted.
  bool record_failure(const IpAddress& ip, int64_t now_ms, int max_failures, bool* started);
  // True while connections from `ip` are to be refused.
  bool blocked(const IpAddress& ip, int64_t now_ms);

 private:
  struct Shared;
  Shared* shared_ = nullptr;
};

}  // namespace ws
