#include "wsserver/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace ws {
namespace {

std::optional<ListenAddress> fail(std::string* error, std::string_view text, const std::string& why) {
  if (error) *error = "bad listen address \"" + std::string(text) + "\": " + why;
  return std::nullopt;
}

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

// Parses PORT, HOST:PORT, *:PORT or [V6]:PORT into `out`.
std::optional<ListenAddress> parse_inet(std::string_view whole, std::string_view s, ListenAddress out,
                                        std::string* error) {
  std::string_view host, port = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return fail(error, whole, "missing ']'");
    host = s.substr(1, close - 1);
    if (close + 1 >= s.size() || s[close + 1] != ':') return fail(error, whole, "expected :PORT after ']'");
    port = s.substr(close + 2);
    in6_addr ignored{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &ignored) != 1)
      return fail(error, whole, "not an IPv6 address: " + std::string(host));
  } else if (size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail(error, whole, "an IPv6 address needs brackets: [ADDR]:PORT");
    if (host == "*") host = {};
    else if (!valid_host_name(host)) return fail(error, whole, "bad host name");
  }
  auto number = parse_port(port);
  if (!number) return fail(error, whole, "port must be a number from 0 to 65535");
  out.port = *number;
  out.host = std::string(host);
  return out;
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* error) {
  // The host or path goes to C calls (inet_pton, bind) that would stop at
  // a NUL and quietly use a shorter address than the one configured.
  if (text.find('\0') != std::string_view::npos) return fail(error, text, "holds a NUL byte");
  ListenAddress out;
  out.text = std::string(text);
  // The transport prefixes of SPEC section 8, in that order: proxy:ws:9000.
  std::string_view rest = text;
  if (rest.rfind("proxy:", 0) == 0) {
    out.transport.proxy = true;
    rest.remove_prefix(6);
  }
  if (rest.rfind("ws:", 0) == 0) {
    out.transport.websocket = true;
    rest.remove_prefix(3);
  }
  if (rest.rfind("unix:", 0) == 0) {
    out.type = SocketType::unix_stream;
    out.path = std::string(rest.substr(5));
    if (out.path.empty()) return fail(error, text, "empty path");
    if (out.path.size() >= sizeof(sockaddr_un{}.sun_path)) return fail(error, text, "path too long for a unix socket");
    return out;
  }
  if (rest.rfind("udp:", 0) == 0) {
    if (out.transport.proxy || out.transport.websocket) return fail(error, text, "proxy: and ws: are for stream listeners, not udp:");
    out.type = SocketType::udp;
    rest.remove_prefix(4);
  }
  return parse_inet(text, rest, std::move(out), error);
}

std::string format_address(const sockaddr* addr, unsigned len) {
  char host[INET6_ADDRSTRLEN] = "?";
  switch (addr->sa_family) {
    case AF_INET: {
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      size_t n = len > offsetof(sockaddr_un, sun_path) ? strnlen(un->sun_path, len - offsetof(sockaddr_un, sun_path)) : 0;
      return "unix:" + std::string(un->sun_path, n);
    }
  }
  return "?";
}

std::optional<uint16_t> parse_port(std::string_view text) {
  uint16_t port = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return port;
}

}  // namespace ws
