// datagram.hpp: a udp: listener. Each datagram is one message, answered
// with one datagram: the service's reply plus the terminator. Commands and
// AUTH mean nothing here.
#pragma once

#include <cstdint>
#include <string>

#include "wsserver/access.hpp"
#include "wsserver/service.hpp"

namespace ws {

struct DatagramTotals {
  uint64_t datagrams = 0, in = 0, out = 0;
};

// Answers what waits on `fd` (non-blocking), at most a batch; datagrams
// from addresses allow/deny refuse are dropped.
DatagramTotals serve_datagrams(int fd, Service& service, const AccessRules& access, char* buffer, size_t size,
                               std::string& out);

// One datagram's reply: a single trailing LF or NUL is the message's end,
// not part of it.
void answer_datagram(std::string_view datagram, Service& service, std::string& out);

}  // namespace ws
