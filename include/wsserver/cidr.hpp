// cidr.hpp: client address lists (`allow`, `deny`): parse "ADDR[/BITS]" for
// IPv4 and IPv6 and match client addresses, IPv4-mapped IPv6 as IPv4.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ws {

// An IP address in network byte order; IPv4 uses the first 4 bytes.
struct IpAddress {
  int family = AF_UNSPEC;
  std::array<uint8_t, 16> bytes{};
};

struct Cidr {
  IpAddress network;
  int prefix = 0;
};

std::optional<Cidr> parse_cidr(std::string_view text, std::string* error);
// The client's address, with ::ffff:a.b.c.d turned into a.b.c.d. Unix socket
// peers give family AF_UNSPEC, which no list matches.
IpAddress ip_address_of(const sockaddr* addr);
bool cidr_contains(const Cidr& cidr, const IpAddress& ip);
bool any_contains(const std::vector<Cidr>& list, const IpAddress& ip);

}  // namespace ws
