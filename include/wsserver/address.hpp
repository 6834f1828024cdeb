// address.hpp: parse the `listen` forms of SPEC section 5 (PORT, HOST:PORT,
// [V6]:PORT, unix:/PATH, udp:HOST:PORT) without touching the network.
#pragma once

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

}  // namespace ws
