#include "wsserver/control.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <climits>
#include <cstring>

#include "wsserver/log.hpp"

namespace ws {
namespace {

constexpr size_t max_connections = 16;
constexpr size_t max_request = 256;
constexpr int64_t connection_timeout_ms = 5000;
// A held request is answered within an upgrade's own timeout; this is a backstop.
constexpr int64_t held_timeout_ms = 120000;

bool fill_address(const std::string& path, sockaddr_un* un, std::string* error) {
  *un = {};
  un->sun_family = AF_UNIX;
  if (path.size() >= sizeof un->sun_path) {
    *error = "control socket path too long: " + path;
    return false;
  }
  std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

std::optional<ControlServer> ControlServer::open(const std::string& path, std::string* error) {
  sockaddr_un un;
  if (!fill_address(path, &un, error)) return std::nullopt;
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = log::syscall_error("socket");
    return std::nullopt;
  }
  unlink(path.c_str());  // a socket left by a master that died; ENOENT is the usual case
  // The umask makes the socket 0600 from the moment it exists.
  mode_t old = umask(0177);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un);
  umask(old);
  if (rc != 0 || listen(fd.get(), 16) != 0) {
    *error = "cannot create control socket " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  ControlServer server;
  server.path_ = path;
  server.listen_ = std::move(fd);
  return server;
}

void ControlServer::remove_file() {
  // Called by the master at exit; the file may already be gone.
  if (listen_) unlink(path_.c_str());
  listen_.reset();
  connections_.clear();
}

bool ControlServer::rename_to(const std::string& path, std::string* error) {
  if (::rename(path_.c_str(), path.c_str()) != 0) {
    *error = "cannot rename control socket " + path_ + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  path_ = path;
  return true;
}

void ControlServer::answer_held(const std::string& answer) {
  for (auto& c : connections_) {
    if (!c.held) continue;
    c.out = answer;
    c.held = false;
  }
}

void ControlServer::add_poll_fds(std::vector<pollfd>& fds) const {
  fds.push_back({listen_.get(), POLLIN, 0});
  // A held request waits for nothing but its client's hang-up (always reported).
  for (const auto& c : connections_)
    fds.push_back({c.fd.get(), static_cast<short>(c.held ? 0 : c.answered ? POLLOUT : POLLIN), 0});
}

void ControlServer::handle(const std::vector<pollfd>& fds, int64_t now_ms,
                           const std::function<std::string(const std::string&)>& answer) {
  for (const auto& p : fds) {
    if (!p.revents) continue;
    if (p.fd == listen_.get()) continue;
    auto it = std::find_if(connections_.begin(), connections_.end(), [&](const Connection& c) { return c.fd.get() == p.fd; });
    if (it != connections_.end()) serve(*it, p.revents, now_ms, answer);
  }
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(), [](const Connection& c) { return !c.fd; }),
                     connections_.end());
  for (const auto& p : fds)
    if (p.fd == listen_.get() && p.revents) accept_all(now_ms);
}

void ControlServer::accept_all(int64_t now_ms) {
  for (;;) {
    Fd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN: all taken; other errors: that client is gone
    if (connections_.size() >= max_connections) continue;  // too many at once: closed unanswered
    connections_.push_back({std::move(fd), {}, {}, 0, false, false, now_ms + connection_timeout_ms});
  }
}

void ControlServer::serve(Connection& c, short revents, int64_t now_ms,
                          const std::function<std::string(const std::string&)>& answer) {
  if (!c.answered) {
    char buf[max_request];
    ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) c.in.append(buf, static_cast<size_t>(n));
    size_t eol = c.in.find('\n');
    if (eol == std::string::npos && n > 0 && c.in.size() < max_request) return;
    if (eol == std::string::npos && n < 0 && errno == EAGAIN) return;
    if (eol == std::string::npos && (n <= 0 || c.in.size() >= max_request)) {
      c.fd.reset();  // closed early, failed, or no line within the limit
      return;
    }
    c.out = answer(c.in.substr(0, eol));
    c.answered = true;
    c.held = c.out.empty();
    if (c.held) {
      c.deadline_ms = now_ms + held_timeout_ms;
      return;
    }
  } else if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
    return;
  }
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) return;  // the rest when the socket drains
    if (n <= 0) break;
    c.sent += static_cast<size_t>(n);
  }
  c.fd.reset();
}

int64_t ControlServer::expire(int64_t now_ms) {
  int64_t next = INT64_MAX;
  for (auto& c : connections_) {
    if (c.deadline_ms <= now_ms) c.fd.reset();
    else next = std::min(next, c.deadline_ms);
  }
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(), [](const Connection& c) { return !c.fd; }),
                     connections_.end());
  return next;
}

std::vector<int> ControlServer::descriptors() const {
  std::vector<int> out{listen_.get()};
  for (const auto& c : connections_) out.push_back(c.fd.get());
  return out;
}

namespace {

// Bounded waits, even for connect: a hung master must not hang whoever asks.
Fd connect_control(const std::string& path, int timeout_ms, std::string* error) {
  sockaddr_un un;
  if (!fill_address(path, &un, error)) return Fd();
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    *error = "cannot reach the control socket " + path + ": " + std::strerror(errno);
    return Fd();
  }
  return fd;
}

}  // namespace

int control_peer_pid(const std::string& path, int timeout_ms, std::string* error) {
  Fd fd = connect_control(path, timeout_ms, error);
  if (!fd) return 0;
  // The credentials of whoever called listen(): the master itself, known to
  // the kernel without the master having to answer.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    *error = "cannot read the control socket's peer: " + std::string(std::strerror(errno));
    return 0;
  }
  return cred.pid;
}

std::optional<std::string> query_control(const std::string& path, const std::string& request, int timeout_ms,
                                         std::string* error) {
  Fd fd = connect_control(path, timeout_ms, error);
  if (!fd) return std::nullopt;
  std::string line = request + "\n";
  if (send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    *error = "cannot reach the control socket " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string answer;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      answer.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "no answer from the control socket " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    return answer;
  }
}

}  // namespace ws
