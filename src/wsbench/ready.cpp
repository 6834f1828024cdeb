#include "ready.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "clock.hpp"
#include "exchange.hpp"
#include "payload.hpp"
#include "wsserver/fd.hpp"

namespace wsbench {
namespace {

constexpr long retry_pause_ns = 200000;  // between refused connects: fine-grained, yet no spin

double realtime_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

enum class Try { answered, retry, mismatch };

// One connection: connect, send, check the reply.
Try try_once(const Target& target, const Message& message, int64_t deadline_ns, std::string* problem) {
  ws::Fd fd(target_socket(target, false));
  if (!fd) return *problem = std::string("socket() failed: ") + std::strerror(errno), Try::retry;
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.address), target.length) != 0) {
    if (errno != EINPROGRESS) return *problem = std::string("connect: ") + std::strerror(errno), Try::retry;
    if (!wait_for(fd.get(), POLLOUT, deadline_ns)) return *problem = "connect timed out", Try::retry;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return *problem = std::string("connect: ") + std::strerror(err), Try::retry;
  }
  Exchange exchange;
  exchange.start(message);
  iovec iov[2];
  msghdr msg{};
  msg.msg_iov = iov;
  while (!exchange.send_done()) {
    msg.msg_iovlen = static_cast<size_t>(exchange.next_send(iov, 2));
    ssize_t n = sendmsg(fd.get(), &msg, MSG_NOSIGNAL);
    if (n >= 0) exchange.sent(static_cast<uint64_t>(n));
    else if (errno == EAGAIN && !wait_for(fd.get(), POLLOUT, deadline_ns)) return *problem = "send timed out", Try::retry;
    else if (errno != EAGAIN && errno != EINTR) return *problem = std::string("send: ") + std::strerror(errno), Try::retry;
  }
  char buffer[4096];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline_ns)) return *problem = "no reply before the deadline", Try::retry;
    ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
    if (n == 0) return *problem = "server closed before replying", Try::retry;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return *problem = std::string("recv: ") + std::strerror(errno), Try::retry;
    }
    switch (exchange.receive(buffer, static_cast<size_t>(n))) {
      case Progress::more: continue;
      case Progress::complete: return Try::answered;
      case Progress::mismatch: return *problem = exchange.problem(), Try::mismatch;
    }
  }
}

}  // namespace

ReadyResult wait_ready(const Options& options, const Target& target) {
  Message message = make_messages(options.size, 1, options.seed).front();
  ReadyResult result;
  int64_t start_ns = now_ns();
  double start_real = options.since > 0 ? options.since : realtime_seconds();
  int64_t deadline_ns = start_ns + static_cast<int64_t>(options.deadline * 1e9);
  if (options.kill_pid > 0 && kill(options.kill_pid, SIGKILL) != 0) {
    result.problem = "cannot kill " + std::to_string(options.kill_pid) + ": " + std::strerror(errno);
    return result;
  }
  while (now_ns() < deadline_ns) {
    ++result.attempts;
    Try outcome = try_once(target, message, deadline_ns, &result.problem);
    if (outcome == Try::answered) {
      result.answered = true;
      result.seconds = realtime_seconds() - start_real;
      return result;
    }
    if (outcome == Try::mismatch) {
      result.mismatch = true;
      return result;
    }
    timespec pause{0, retry_pause_ns};
    nanosleep(&pause, nullptr);
  }
  return result;
}

}  // namespace wsbench
