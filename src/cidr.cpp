#include "wsserver/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace ws {
namespace {

constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::optional<Cidr> fail(std::string* error, std::string_view text, const char* why) {
  if (error) *error = "bad address range \"" + std::string(text) + "\": " + why;
  return std::nullopt;
}

bool is_v4_mapped(const uint8_t* b) { return std::memcmp(b, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0; }

IpAddress v4(const void* four_bytes) {
  IpAddress ip;
  ip.family = AF_INET;
  std::memcpy(ip.bytes.data(), four_bytes, 4);
  return ip;
}

void clear_host_bits(Cidr& c) {
  int width = c.network.family == AF_INET ? 4 : 16;
  for (int i = 0; i < width; ++i) {
    int keep = c.prefix - i * 8;
    if (keep >= 8) continue;
    c.network.bytes[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
  }
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text, std::string* error) {
  // inet_pton() would stop at a NUL and read a different range than written.
  if (text.find('\0') != std::string_view::npos) return fail(error, text, "holds a NUL byte");
  std::string_view addr = text, bits;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    bits = text.substr(slash + 1);
  }
  Cidr c;
  std::string host(addr);
  uint8_t buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
    c.network = v4(buf);
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    c.network.family = AF_INET6;
    std::memcpy(c.network.bytes.data(), buf, 16);
    c.prefix = 128;
  } else {
    return fail(error, text, "not an IPv4 or IPv6 address");
  }
  if (addr.size() != text.size()) {
    if (bits.empty() || bits.size() > 3) return fail(error, text, "bad prefix length");
    int n = 0;
    for (char ch : bits) {
      if (ch < '0' || ch > '9') return fail(error, text, "bad prefix length");
      n = n * 10 + (ch - '0');
    }
    if (n > c.prefix) return fail(error, text, "prefix length too long for the address");
    c.prefix = n;
  }
  // A range inside ::ffff:0:0/96 is an IPv4 range: clients are matched as IPv4.
  if (c.network.family == AF_INET6 && c.prefix >= 96 && is_v4_mapped(c.network.bytes.data())) {
    uint8_t four[4];
    std::memcpy(four, c.network.bytes.data() + 12, 4);
    c.network = v4(four);
    c.prefix -= 96;
  }
  clear_host_bits(c);
  return c;
}

IpAddress ip_address_of(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) return v4(&reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
  if (addr->sa_family == AF_INET6) {
    const uint8_t* b = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
    if (is_v4_mapped(b)) return v4(b + 12);
    IpAddress ip;
    ip.family = AF_INET6;
    std::memcpy(ip.bytes.data(), b, 16);
    return ip;
  }
  return {};
}

bool cidr_contains(const Cidr& c, const IpAddress& ip) {
  if (ip.family != c.network.family) return false;
  int full = c.prefix / 8, rest = c.prefix % 8;
  if (std::memcmp(ip.bytes.data(), c.network.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.bytes[full] & mask) == c.network.bytes[full];
}

bool any_contains(const std::vector<Cidr>& list, const IpAddress& ip) {
  for (const auto& c : list)
    if (cidr_contains(c, ip)) return true;
  return false;
}

}  // namespace ws
