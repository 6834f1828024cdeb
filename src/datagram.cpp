#include "wsserver/datagram.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "wsserver/log.hpp"

namespace ws {
namespace {

// Enough to drain a burst, few enough that a stream client waiting in the
// backlog is taken soon.
constexpr int batch = 64;

}  // namespace

void answer_datagram(std::string_view datagram, Service& service, std::string& out) {
  if (!datagram.empty() && (datagram.back() == '\n' || datagram.back() == '\0')) datagram.remove_suffix(1);
  service.feed(datagram, out);
  service.end(out);
}

DatagramTotals serve_datagrams(int fd, Service& service, const AccessRules& access, char* buffer, size_t size,
                               std::string& out) {
  DatagramTotals totals;
  for (int i = 0; i < batch; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(fd, buffer, size, MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) break;  // EAGAIN: none left; other errors: nothing to answer
    if (!access.admits(ip_address_of(reinterpret_cast<sockaddr*>(&peer)))) continue;
    if (static_cast<size_t>(n) > size) {
      log::debug("dropped a datagram of %zd bytes: larger than the buffer", n);
      continue;
    }
    out.clear();
    answer_datagram({buffer, static_cast<size_t>(n)}, service, out);
    ++totals.datagrams;
    totals.in += static_cast<uint64_t>(n);
    // A reply that cannot go (too big with its terminator, or the peer is
    // unreachable) is dropped, as UDP drops.
    if (sendto(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&peer), len) > 0)
      totals.out += out.size();
  }
  return totals;
}

}  // namespace ws
