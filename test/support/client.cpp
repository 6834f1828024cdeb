#include "client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace test {

std::optional<Client> Client::try_connect(uint16_t port, const std::string& host, const std::string& source) {
  sockaddr_storage ss{};
  socklen_t len;
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &in->sin_addr);
    len = sizeof *in;
  }
  ws::Fd fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return std::nullopt;
  }
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return std::nullopt;
  return Client(std::move(fd));
}

Client Client::connect(uint16_t port, const std::string& host) {
  auto c = try_connect(port, host);
  if (!c) throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
  return std::move(*c);
}

Client Client::connect_with_receive_buffer(uint16_t port, int bytes) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) != 0)
    throw std::runtime_error("cannot connect to port " + std::to_string(port) + ": " + std::strerror(errno));
  return Client(std::move(fd));
}

bool have_ipv6_loopback() {
  ws::Fd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return fd && bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

Client Client::connect_unix(const std::string& path) {
  ws::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0)
    throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno));
  return Client(std::move(fd));
}

bool Client::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

long Client::fill(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return -1;
  char buf[65536];
  ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return 0;
  }
  pending_.append(buf, static_cast<size_t>(n));
  return n;
}

std::optional<std::string> Client::reply(std::chrono::milliseconds timeout, char terminator) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t end = pending_.find(terminator);
    if (end != std::string::npos) {
      std::string out = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return out;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (eof_ || left.count() <= 0 || fill(left) <= 0) return std::nullopt;
  }
}

std::optional<std::string> Client::read_to_eof(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fill(left) < 0) return std::nullopt;
  }
  return std::exchange(pending_, {});
}

bool Client::quiet_for(std::chrono::milliseconds duration) {
  pollfd p{fd_.get(), POLLIN, 0};
  return pending_.empty() && !eof_ && poll(&p, 1, static_cast<int>(duration.count())) == 0;
}

bool Client::closed_within(std::chrono::milliseconds timeout) { return read_to_eof(timeout).has_value(); }

void Client::half_close() { shutdown(fd_.get(), SHUT_WR); }

void Client::reset() {
  linger l{1, 0};
  setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd_.reset();
}

}  // namespace test
