// datagram.hpp: a udp: listener. Each datagram is one message, answered
// with one datagram: the service's reply plus the terminator. Commands and
// AUTH mean nothing here.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "wsserver/access.hpp"
#include "wsserver/cidr.hpp"
#include "wsserver/service.hpp"

namespace ws {

struct DatagramTotals {
  uint64_t datagrams = 0, in = 0, out = 0;
};

// What a udp: listener must not answer. A reply to a forged source is sent
// to whoever the forger names: to the server's own address, or to another
// service that answers everything (echo 7, daytime 13, chargen 19, time 37),
// it would start a loop that never ends (CVE-1999-0103). Replies to any one
// source address but loopback are also capped, so a forged source cannot
// aim this server at a victim. One guard per worker: each worker keeps its
// own counts.
class DatagramGuard {
 public:
  enum class Verdict { answer, own_address, loop_port, over_rate };
  static constexpr int replies_per_second = 100;

  // Learns a udp: socket's own address; for a wildcard bind, also asks the
  // kernel for each datagram's destination address.
  void watch(int fd);
  // The same from an address (for tests).
  void add_own(const sockaddr* address);
  // `arrived_on`: the datagram's destination address, or AF_UNSPEC when not known.
  Verdict judge(const sockaddr* source, const IpAddress& arrived_on, int64_t now_ms);
  // Logs a drop, at most once every few seconds for each kind.
  void note_drop(Verdict verdict, const sockaddr* source, int64_t now_ms);

 private:
  struct Own {
    IpAddress ip;  // AF_UNSPEC bytes all zero for a wildcard bind
    uint16_t port = 0;
    bool wildcard = false;
  };
  struct Bucket {
    int64_t refilled_ms = 0;
    int64_t millitokens = -1;  // -1: never used
  };
  bool is_own(const IpAddress& ip, uint16_t port, const IpAddress& arrived_on) const;
  bool take_token(const IpAddress& ip, int64_t now_ms);

  std::vector<Own> own_;
  std::vector<Bucket> buckets_;
  int64_t last_log_ms_[4] = {INT64_MIN / 2, INT64_MIN / 2, INT64_MIN / 2, INT64_MIN / 2};
};

// Answers what waits on `fd` (non-blocking), at most a batch; datagrams
// from addresses allow/deny refuse, or that `guard` stops, are dropped.
DatagramTotals serve_datagrams(int fd, Service& service, const AccessRules& access, DatagramGuard& guard,
                               char* buffer, size_t size, Replies& out);

// One datagram's reply: a single trailing LF or NUL is the message's end,
// not part of it.
void answer_datagram(std::string_view datagram, Service& service, Replies& out);

}  // namespace ws
