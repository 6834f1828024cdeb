#include "target.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace wsbench {
namespace {

std::string format(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET6) {
    const auto& six = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &six.sin6_addr, host, sizeof host);
    return std::string("[") + host + "]:" + std::to_string(ntohs(six.sin6_port));
  }
  const auto& four = reinterpret_cast<const sockaddr_in&>(ss);
  inet_ntop(AF_INET, &four.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(four.sin_port));
}

}  // namespace

std::optional<Target> resolve_target(const Options& options, std::string* error) {
  Target t;
  if (!options.unix_path.empty()) {
    sockaddr_un un{};
    if (options.unix_path.size() >= sizeof un.sun_path) {
      *error = "unix socket path too long: " + options.unix_path;
      return std::nullopt;
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, options.unix_path.c_str(), options.unix_path.size() + 1);
    std::memcpy(&t.address, &un, sizeof un);
    t.length = sizeof un;
    t.tcp = false;
    t.name = "unix:" + options.unix_path;
    return t;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(options.port);
  if (int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve " + options.host + ": " + gai_strerror(rc);
    return std::nullopt;
  }
  std::memcpy(&t.address, found->ai_addr, found->ai_addrlen);
  t.length = found->ai_addrlen;
  freeaddrinfo(found);
  t.name = format(t.address);
  return t;
}

int target_socket(const Target& target, bool blocking) {
  int fd = socket(target.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0 || !target.tcp) return fd;
  int one = 1;
  // Without it a reply in two segments could wait for a delayed ACK; a
  // failure only costs speed, never correctness.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace wsbench
