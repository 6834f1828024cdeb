#include "wsserver/datagram.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "wsserver/clock.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/log.hpp"

namespace ws {
namespace {

// Enough to drain a burst, few enough that a stream client waiting in the
// backlog is taken soon.
constexpr int batch = 64;
constexpr size_t bucket_count = 1024;
constexpr int64_t drop_log_interval_ms = 5000;
constexpr int64_t token = 1000;  // a reply's cost in millitokens

bool is_loop_port(uint16_t port) { return port == 0 || port == 7 || port == 13 || port == 19 || port == 37; }

uint16_t port_of(const sockaddr* a) {
  if (a->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port);
  if (a->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
  return 0;
}

bool same_ip(const IpAddress& a, const IpAddress& b) { return a.family == b.family && a.bytes == b.bytes; }

bool is_loopback(const IpAddress& ip) {
  static const std::array<uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return (ip.family == AF_INET && ip.bytes[0] == 127) || (ip.family == AF_INET6 && ip.bytes == v6_loopback);
}

std::string ip_text(const IpAddress& ip) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(ip.family, ip.bytes.data(), text, sizeof text);
  return text;
}

size_t bucket_of(const IpAddress& ip) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (uint8_t b : ip.bytes) h = (h ^ b) * 1099511628211ULL;
  return static_cast<size_t>(h ^ static_cast<uint64_t>(ip.family)) % bucket_count;
}

// The destination address the kernel reports for a wildcard listener.
IpAddress arrival_address(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    sockaddr_storage a{};
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      auto* in = reinterpret_cast<sockaddr_in*>(&a);
      in->sin_family = AF_INET;
      in->sin_addr = reinterpret_cast<const in_pktinfo*>(CMSG_DATA(c))->ipi_addr;
      return ip_address_of(reinterpret_cast<sockaddr*>(&a));
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&a);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = reinterpret_cast<const in6_pktinfo*>(CMSG_DATA(c))->ipi6_addr;
      return ip_address_of(reinterpret_cast<sockaddr*>(&a));
    }
  }
  return {};
}

}  // namespace

void DatagramGuard::watch(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return;
  add_own(reinterpret_cast<sockaddr*>(&local));
  if (!own_.back().wildcard) return;
  int one = 1;
  if (local.ss_family == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
}

void DatagramGuard::add_own(const sockaddr* address) {
  Own own{ip_address_of(address), port_of(address), false};
  own.wildcard = std::all_of(own.ip.bytes.begin(), own.ip.bytes.end(), [](uint8_t b) { return b == 0; });
  own_.push_back(own);
}

bool DatagramGuard::is_own(const IpAddress& ip, uint16_t port, const IpAddress& arrived_on) const {
  // A wildcard socket sends from whichever local address the route picks:
  // loopback, or the address the datagram was sent to, are the ones we know.
  return std::any_of(own_.begin(), own_.end(), [&](const Own& o) {
    return o.port == port && (o.wildcard ? is_loopback(ip) || same_ip(ip, arrived_on) : same_ip(ip, o.ip));
  });
}

// A token bucket per hash of the source address: sources that share a
// bucket share its rate, which errs on the side of answering less.
bool DatagramGuard::take_token(const IpAddress& ip, int64_t now_ms) {
  if (buckets_.empty()) buckets_.resize(bucket_count);
  Bucket& b = buckets_[bucket_of(ip)];
  const int64_t full = replies_per_second * token;
  if (b.millitokens < 0) b.millitokens = full;
  else b.millitokens = std::min(full, b.millitokens + std::max<int64_t>(0, now_ms - b.refilled_ms) * replies_per_second);
  b.refilled_ms = now_ms;
  if (b.millitokens < token) return false;
  b.millitokens -= token;
  return true;
}

DatagramGuard::Verdict DatagramGuard::judge(const sockaddr* source, const IpAddress& arrived_on, int64_t now_ms) {
  IpAddress ip = ip_address_of(source);
  uint16_t port = port_of(source);
  if (is_loop_port(port)) return Verdict::loop_port;
  if (is_own(ip, port, arrived_on)) return Verdict::own_address;
  // The cap is against forged sources, and Linux drops a loopback source
  // that comes from outside: local clients (and the soak) are not held back.
  if (is_loopback(ip)) return Verdict::answer;
  return take_token(ip, now_ms) ? Verdict::answer : Verdict::over_rate;
}

void DatagramGuard::note_drop(Verdict verdict, const sockaddr* source, int64_t now_ms) {
  int64_t& last = last_log_ms_[static_cast<int>(verdict)];
  if (now_ms - last < drop_log_interval_ms) return;
  last = now_ms;
  std::string from = format_address(source, sizeof(sockaddr_storage));
  if (verdict == Verdict::own_address)
    log::warn("dropped a datagram from the server's own address %s: a reply would loop", from.c_str());
  else if (verdict == Verdict::loop_port)
    log::warn("dropped a datagram from a loop port: %s", from.c_str());
  else if (verdict == Verdict::over_rate)
    log::warn("udp replies to %s over %d a second: dropping the excess", ip_text(ip_address_of(source)).c_str(),
              replies_per_second);
}

void answer_datagram(std::string_view datagram, Service& service, Replies& out) {
  if (!datagram.empty() && (datagram.back() == '\n' || datagram.back() == '\0')) datagram.remove_suffix(1);
  service.feed(datagram, out);
  service.end(out);
}

namespace {

struct Received {
  ssize_t size = -1;  // the datagram's real size, even when cut
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  IpAddress arrived_on;
};

Received receive(int fd, char* buffer, size_t size) {
  Received r;
  iovec iov{buffer, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))];
  msghdr msg{};
  msg.msg_name = &r.peer;
  msg.msg_namelen = r.peer_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  r.size = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
  if (r.size < 0) return r;
  r.peer_len = msg.msg_namelen;
  r.arrived_on = arrival_address(msg);
  return r;
}

}  // namespace

DatagramTotals serve_datagrams(int fd, Service& service, const AccessRules& access, DatagramGuard& guard,
                               char* buffer, size_t size, Replies& out) {
  DatagramTotals totals;
  for (int i = 0; i < batch; ++i) {
    Received r = receive(fd, buffer, size);
    if (r.size < 0) break;  // EAGAIN: none left; other errors: nothing to answer
    auto* source = reinterpret_cast<sockaddr*>(&r.peer);
    if (!access.admits(ip_address_of(source))) continue;
    if (static_cast<size_t>(r.size) > size) {
      log::debug("dropped a datagram of %zd bytes: larger than the buffer", r.size);
      continue;
    }
    int64_t now = monotonic_ms();
    DatagramGuard::Verdict verdict = guard.judge(source, r.arrived_on, now);
    if (verdict != DatagramGuard::Verdict::answer) {
      guard.note_drop(verdict, source, now);
      continue;
    }
    out.clear();
    answer_datagram({buffer, static_cast<size_t>(r.size)}, service, out);
    ++totals.datagrams;
    totals.in += static_cast<uint64_t>(r.size);
    // A reply that cannot go (too big with its terminator, or the peer is
    // unreachable) is dropped, as UDP drops.
    if (sendto(fd, out.wire().data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL, source, r.peer_len) > 0)
      totals.out += out.size();
  }
  return totals;
}

}  // namespace ws
