#include "wire.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace soak {
namespace {

constexpr auto connect_timeout = 20s;

std::string address_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
  }
  auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
  inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
}

}  // namespace

std::string Endpoint::text() const {
  if (kind == unix_stream) return "unix:" + path;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (kind == udp ? "udp:" : "") + h + ":" + std::to_string(port);
}

const char* end_name(End e) {
  switch (e) {
    case End::none: return "none";
    case End::eof: return "unexpected close";
    case End::reset: return "reset";
    case End::timeout: return "timeout";
    case End::refused: return "connect failed";
    case End::mismatch: return "wrong reply";
  }
  return "?";
}

std::optional<Conn> Conn::open(const Endpoint& to, End* why) {
  Conn c;
  c.opened_ = Clock::now();
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (to.kind == Endpoint::unix_stream) {
    auto& un = reinterpret_cast<sockaddr_un&>(ss);
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, to.path.c_str(), sizeof un.sun_path - 1);
    len = sizeof un;
  } else if (to.host.find(':') != std::string::npos) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(to.port);
    inet_pton(AF_INET6, to.host.c_str(), &in6.sin6_addr);
    len = sizeof in6;
  } else {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(to.port);
    inet_pton(AF_INET, to.host.c_str(), &in.sin_addr);
    len = sizeof in;
  }
  c.fd_ = ws::Fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!c.fd_) {
    *why = End::refused;
    return std::nullopt;
  }
  // Non-blocking, so that a full backlog costs a bounded wait, not the
  // kernel's minutes of SYN retries.
  auto until = c.opened_ + connect_timeout;
  int rc = connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&ss), len);
  while (rc != 0 && errno == EAGAIN && Clock::now() < until) {  // a unix backlog that is full for now
    wait_for(c.fd_.get(), POLLOUT, std::min(until, Clock::now() + 10ms));
    rc = connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (rc != 0 && errno == EINPROGRESS) {
    while (Clock::now() < until && !wait_for(c.fd_.get(), POLLOUT, until)) {
    }
    int err = ETIMEDOUT;
    socklen_t err_len = sizeof err;
    if (Clock::now() < until || wait_for(c.fd_.get(), POLLOUT, Clock::now()))
      getsockopt(c.fd_.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    rc = err == 0 ? 0 : -1;
    errno = err;
  }
  if (rc != 0) {
    *why = errno == ETIMEDOUT || errno == EAGAIN ? End::timeout : End::refused;
    return std::nullopt;
  }
  if (to.kind == Endpoint::unix_stream) {
    struct stat st {};
    fstat(c.fd_.get(), &st);
    c.key_.unix_inode = st.st_ino;
  } else {
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    getsockname(c.fd_.get(), reinterpret_cast<sockaddr*>(&local), &local_len);
    c.key_.tcp = address_text(local);
  }
  return c;
}

void Conn::reset() {
  linger l{1, 0};
  setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd_.reset();
}

void Conn::half_close() { shutdown(fd_.get(), SHUT_WR); }

long receive_some(int fd, std::string& into, size_t most, End* failed) {
  size_t at = into.size();
  into.resize(at + most);
  ssize_t n = recv(fd, into.data() + at, most, MSG_DONTWAIT);
  into.resize(at + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
  *failed = End::reset;
  return -1;
}

long send_some(int fd, const char* data, size_t size, End* failed) {
  ssize_t n = send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
  *failed = End::reset;
  return -1;
}

short wait_for(int fd, short events, Clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  pollfd p{fd, events, 0};
  if (poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 1000))) <= 0) return 0;
  return p.revents;
}

}  // namespace soak
