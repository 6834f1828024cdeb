// address.hpp: parse the `listen` forms of SPEC section 5 (PORT, HOST:PORT,
// [V6]:PORT, unix:/PATH, udp:HOST:PORT) without touching the network, and
// write a socket address the way logs and status show it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ws {

enum class Transport { tcp, udp, unix_stream };

struct ListenAddress {
  Transport transport = Transport::tcp;
  std::string host;  // empty: every IPv4 and IPv6 address
  uint16_t port = 0;
  std::string path;  // unix sockets only
  std::string text;  // as configured, the listener's identity across reloads
};

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* error);

// A port in decimal, 0 to 65535: digits only, no sign, no space.
std::optional<uint16_t> parse_port(std::string_view text);

// "127.0.0.1:9000", "[::1]:9000" or "unix:/path" for a socket address.
std::string format_address(const sockaddr* addr, unsigned len);

}  // namespace ws
