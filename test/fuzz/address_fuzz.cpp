// libFuzzer target: the `listen` and `allow`/`deny` parsers and CIDR
// matching. Properties:
// - the input as text: parse_cidr and parse_listen_address never crash;
//   what they accept holds no NUL byte (the C calls that later get the
//   address would read a shorter one), and reads back the same when written
//   out canonically; a parsed range has no host bits and contains its own
//   network address and its last address, not the one past its prefix;
// - the input as bytes (34 or more): "ADDRESS/PREFIX" written by inet_ntop
//   always parses, and cidr_contains agrees with a bit-by-bit comparison for
//   a client address, IPv4-mapped IPv6 counting as IPv4 on both sides.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "wsserver/address.hpp"
#include "wsserver/cidr.hpp"

#include "fuzz_check.hpp"

namespace {

int width(const ws::IpAddress& ip) { return ip.family == AF_INET ? 4 : 16; }

std::string to_text(int family, const uint8_t* bytes) {
  char buf[INET6_ADDRSTRLEN];
  FUZZ_CHECK(inet_ntop(family, bytes, buf, sizeof buf) != nullptr);
  return buf;
}

bool bit(const ws::IpAddress& ip, int i) { return (ip.bytes[static_cast<size_t>(i / 8)] >> (7 - i % 8)) & 1; }

ws::IpAddress with_bit(ws::IpAddress ip, int i, bool value) {
  uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
  auto& b = ip.bytes[static_cast<size_t>(i / 8)];
  b = static_cast<uint8_t>(value ? b | mask : b & ~mask);
  return ip;
}

// What a client connecting from `ip` looks like to the worker.
ws::IpAddress as_client(const ws::IpAddress& ip) {
  sockaddr_storage ss{};
  if (ip.family == AF_INET) {
    auto& sin = reinterpret_cast<sockaddr_in&>(ss);
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, ip.bytes.data(), 4);
  } else {
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, ip.bytes.data(), 16);
  }
  return ws::ip_address_of(reinterpret_cast<const sockaddr*>(&ss));
}

bool same(const ws::IpAddress& a, const ws::IpAddress& b) { return a.family == b.family && a.bytes == b.bytes; }

void check_cidr(std::string_view text) {
  std::string error;
  auto c = ws::parse_cidr(text, &error);
  if (!c) {
    FUZZ_CHECK(error.find("bad address range") == 0);
    return;
  }
  FUZZ_CHECK(text.find('\0') == std::string_view::npos);
  const ws::IpAddress& net = c->network;
  FUZZ_CHECK(net.family == AF_INET || net.family == AF_INET6);
  int bits = width(net) * 8;
  FUZZ_CHECK(c->prefix >= 0 && c->prefix <= bits);
  for (int i = c->prefix; i < bits; ++i) FUZZ_CHECK(!bit(net, i));
  FUZZ_CHECK(ws::cidr_contains(*c, net));
  ws::IpAddress last = net;
  for (int i = c->prefix; i < bits; ++i) last = with_bit(last, i, true);
  FUZZ_CHECK(ws::cidr_contains(*c, last));
  if (c->prefix > 0) FUZZ_CHECK(!ws::cidr_contains(*c, with_bit(net, c->prefix - 1, !bit(net, c->prefix - 1))));
  // A client at the network address is matched as the range says.
  FUZZ_CHECK(same(as_client(net), net));
  // Written out canonically, the range reads back the same.
  auto again = ws::parse_cidr(to_text(net.family, net.bytes.data()) + "/" + std::to_string(c->prefix), nullptr);
  FUZZ_CHECK(again && same(again->network, net) && again->prefix == c->prefix);
}

std::string canonical(const ws::ListenAddress& a) {
  std::string prefix = std::string(a.transport.proxy ? "proxy:" : "") + (a.transport.websocket ? "ws:" : "");
  if (a.type == ws::SocketType::unix_stream) return prefix + "unix:" + a.path;
  std::string host = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
  std::string inet = a.host.empty() ? std::to_string(a.port) : host + ":" + std::to_string(a.port);
  return prefix + (a.type == ws::SocketType::udp ? "udp:" + inet : inet);
}

void check_listen_address(std::string_view text) {
  std::string error;
  auto a = ws::parse_listen_address(text, &error);
  if (!a) {
    FUZZ_CHECK(error.find("bad listen address") == 0);
    return;
  }
  FUZZ_CHECK(text.find('\0') == std::string_view::npos);
  FUZZ_CHECK(a->text == text);
  if (a->type == ws::SocketType::unix_stream) {
    FUZZ_CHECK(!a->path.empty() && a->path.size() < sizeof(sockaddr_un{}.sun_path));
    FUZZ_CHECK(a->host.empty());
  } else {
    FUZZ_CHECK(a->path.empty());
  }
  auto again = ws::parse_listen_address(canonical(*a), nullptr);
  FUZZ_CHECK(again && again->type == a->type && again->host == a->host && again->port == a->port &&
             again->path == a->path && again->transport.proxy == a->transport.proxy && again->transport.websocket == a->transport.websocket);
  FUZZ_CHECK(a->type != ws::SocketType::udp || (!a->transport.proxy && !a->transport.websocket));
}

// IPv4-mapped IPv6 as IPv4: the family, bytes and prefix a match is made on.
ws::Cidr effective(ws::Cidr c) {
  if (c.network.family == AF_INET6 && c.prefix >= 96 && as_client(c.network).family == AF_INET) {
    c.network = as_client(c.network);
    c.prefix -= 96;
  }
  return c;
}

void check_matching(const uint8_t* data) {
  ws::Cidr range;
  range.network.family = data[0] & 1 ? AF_INET6 : AF_INET;
  std::memcpy(range.network.bytes.data(), data + 2, static_cast<size_t>(width(range.network)));
  range.prefix = data[1] % (width(range.network) * 8 + 1);
  ws::IpAddress client;
  client.family = data[0] & 2 ? AF_INET6 : AF_INET;
  std::memcpy(client.bytes.data(), data + 18, static_cast<size_t>(width(client)));

  std::string text = to_text(range.network.family, range.network.bytes.data()) + "/" + std::to_string(range.prefix);
  auto parsed = ws::parse_cidr(text, nullptr);
  FUZZ_CHECK(parsed);
  ws::Cidr want = effective(range);
  ws::IpAddress seen = as_client(client);
  bool expected = want.network.family == seen.family;
  for (int i = 0; expected && i < want.prefix; ++i) expected = bit(want.network, i) == bit(seen, i);
  FUZZ_CHECK(ws::cidr_contains(*parsed, seen) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_cidr(text);
  check_listen_address(text);
  if (size >= 34) check_matching(data);
  return 0;
}
