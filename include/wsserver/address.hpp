// address.hpp: parse the `listen` forms of SPEC sections 5 and 8 (PORT,
// HOST:PORT, [V6]:PORT, unix:/PATH, udp:HOST:PORT, each stream form optionally
// behind proxy: and ws:) without touching the network, and
// write a socket address the way logs and status show it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ws {

enum class SocketType { tcp, udp, unix_stream };

// The transport a stream listener's clients speak (SPEC section 8): every
// connection starts with a PROXY header; the client speaks WebSocket.
struct ListenerTransport {
  bool proxy = false;
  bool websocket = false;
  // One byte, to travel with a client the master hands to a worker.
  unsigned char tag() const { return static_cast<unsigned char>((proxy ? 1 : 0) | (websocket ? 2 : 0)); }
  static ListenerTransport from_tag(unsigned char tag) { return {(tag & 1) != 0, (tag & 2) != 0}; }
};

struct ListenAddress {
  SocketType type = SocketType::tcp;
  std::string host;  // empty: every IPv4 and IPv6 address
  uint16_t port = 0;
  std::string path;  // unix sockets only
  std::string text;  // as configured, the listener's identity across reloads
  ListenerTransport transport;
};

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* error);

// A port in decimal, 0 to 65535: digits only, no sign, no space.
std::optional<uint16_t> parse_port(std::string_view text);

// "127.0.0.1:9000", "[::1]:9000" or "unix:/path" for a socket address.
std::string format_address(const sockaddr* addr, unsigned len);

}  // namespace ws
