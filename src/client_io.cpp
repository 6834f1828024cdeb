#include "wsserver/client_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace ws {

const char* close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::client_closed: return "client-closed";
    case CloseReason::exit_command: return "exit";
    case CloseReason::idle_timeout: return "idle-timeout";
    case CloseReason::send_timeout: return "send-timeout";
    case CloseReason::reset: return "reset";
    case CloseReason::shutdown: return "shutdown";
    case CloseReason::auth_failed: return "auth-failed";
    case CloseReason::refused: return "refused";
    case CloseReason::per_ip_limit: return "per-ip-limit";
    case CloseReason::too_slow: return "too-slow";
    case CloseReason::auth_timeout: return "auth-timeout";
    case CloseReason::slow_message: return "slow-message";
    case CloseReason::unauthenticated: return "unauthenticated";
    case CloseReason::auth_blocked: return "auth-blocked";
  }
  return "?";
}

int64_t message_deadline(int64_t started_ms, uint64_t bytes, int64_t idle_ms, long long min_rate) {
  if (idle_ms <= 0 || min_rate <= 0) return INT64_MAX;
  // Keeps bytes * 1000 from overflowing: a message past a petabyte has
  // outlived any deadline worth keeping.
  if (bytes > uint64_t{1} << 50) return INT64_MAX;
  int64_t at_rate = static_cast<int64_t>(bytes * 1000 / static_cast<uint64_t>(min_rate));
  return started_ms + (at_rate > idle_ms ? at_rate : idle_ms);
}

int send_all(int fd, std::string_view data, bool (*interrupted)()) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR && !(interrupted && interrupted())) continue;
    return errno;
  }
  return 0;
}

void close_lingering(int fd, int linger_ms) {
  // ENOTCONN here means the client is gone already: nothing to wait for.
  if (shutdown(fd, SHUT_WR) == 0 && linger_ms > 0) {
    timespec start{}, now{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    char sink[4096];
    for (;;) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      pollfd p{fd, POLLIN, 0};
      if (spent >= linger_ms || poll(&p, 1, static_cast<int>(linger_ms - spent)) <= 0) break;
      ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  close(fd);
}

}  // namespace ws
