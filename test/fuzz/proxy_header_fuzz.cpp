// libFuzzer target: the PROXY protocol header parser (SPEC section 9).
// Properties:
// - it never takes more than it is given, nor a byte past the header: the
//   bytes behind a done header are the client's;
// - the result does not depend on how the bytes were split: fed whole, in
//   the fuzzer's chunks, one byte at a time, or read as want() allows (which
//   never asks past a done header), the status, bytes taken, addresses and
//   reason are the same, and a done header's bytes alone give it too;
// - a done header has the shape the text gives it (v1 ends in CRLF within
//   107 bytes; v2 is 16 + its length field), and its addresses, written out
//   again as v2 and (for IP) as v1, read back the same; written out from a
//   v1 TCP4 line or a v2 header without TLVs, they are byte for byte the
//   header that was read.
//
// Input: byte 0 % 32 + 1 is the chunk size; the rest is what the proxy sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "wsserver/address.hpp"
#include "wsserver/cidr.hpp"
#include "wsserver/proxy_header.hpp"

#include "fuzz_check.hpp"

namespace {

using Status = ws::ProxyHeaderParser::Status;

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

struct Outcome {
  Status status = Status::need_more;
  size_t taken = 0;
  ws::ProxyHeader header;
  std::string reason;
};

Outcome outcome(const ws::ProxyHeaderParser& p, size_t taken) {
  return {p.status(), taken, p.header(), std::string(p.reason())};
}

Outcome in_chunks(std::string_view stream, size_t chunk) {
  ws::ProxyHeaderParser p;
  size_t taken = 0;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    size_t n = std::min(chunk, stream.size() - at);
    size_t used = p.feed(stream.substr(at, n));
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(used == n || p.status() != Status::need_more);
    taken += used;
  }
  return outcome(p, taken);
}

// As a caller reading a socket exactly would: never more than want().
Outcome by_want(std::string_view stream) {
  ws::ProxyHeaderParser p;
  size_t at = 0;
  while (p.status() == Status::need_more && at < stream.size()) {
    size_t n = std::min(p.want(), stream.size() - at);
    FUZZ_CHECK(n > 0);
    size_t used = p.feed(stream.substr(at, n));
    FUZZ_CHECK(used == n || p.status() == Status::bad);
    at += used;
    if (used < n) break;
  }
  return outcome(p, at);
}

bool same_addresses(const ws::ProxyHeader& a, const ws::ProxyHeader& b) {
  return a.command == b.command && a.address_len == b.address_len &&
         std::memcmp(&a.source, &b.source, sizeof a.source) == 0 &&
         std::memcmp(&a.destination, &b.destination, sizeof a.destination) == 0;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.status == b.status && a.taken == b.taken && a.reason == b.reason &&
         (a.status != Status::done || (a.header.version == b.header.version && same_addresses(a.header, b.header)));
}

std::string raw(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

// The address and port fields of one end, as v2 carries them.
std::string ip_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return raw(&reinterpret_cast<const sockaddr_in&>(ss).sin_addr, 4);
  return raw(&reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
}

std::string port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return raw(&reinterpret_cast<const sockaddr_in&>(ss).sin_port, 2);
  return raw(&reinterpret_cast<const sockaddr_in6&>(ss).sin6_port, 2);
}

std::string encode_v2(const ws::ProxyHeader& h) {
  std::string block;
  char family = 0x31;
  if (h.source.ss_family == AF_UNIX) {
    block = raw(reinterpret_cast<const sockaddr_un&>(h.source).sun_path, 108) +
            raw(reinterpret_cast<const sockaddr_un&>(h.destination).sun_path, 108);
  } else {
    family = h.source.ss_family == AF_INET ? 0x11 : 0x21;
    block = ip_of(h.source) + ip_of(h.destination) + port_of(h.source) + port_of(h.destination);
  }
  char length[2] = {static_cast<char>(block.size() >> 8), static_cast<char>(block.size())};
  return v2_signature + '\x21' + family + raw(length, 2) + block;
}

std::string text_of(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN];
  std::string ip = ip_of(ss);
  FUZZ_CHECK(inet_ntop(ss.ss_family, ip.data(), buf, sizeof buf) != nullptr);
  uint16_t port;
  std::memcpy(&port, port_of(ss).data(), 2);
  return std::string(buf) + " " + std::to_string(ntohs(port));
}

std::string encode_v1(const ws::ProxyHeader& h) {
  std::string src = text_of(h.source), dst = text_of(h.destination);
  size_t s = src.find(' '), d = dst.find(' ');
  return std::string(h.source.ss_family == AF_INET ? "PROXY TCP4 " : "PROXY TCP6 ") + src.substr(0, s) + " " +
         dst.substr(0, d) + " " + src.substr(s + 1) + " " + dst.substr(d + 1) + "\r\n";
}

void check_reads_back(const std::string& encoded, const ws::ProxyHeader& h) {
  Outcome again = in_chunks(encoded, encoded.size());
  FUZZ_CHECK(again.status == Status::done && again.taken == encoded.size());
  FUZZ_CHECK(same_addresses(again.header, h));
}

void check_addresses(const ws::ProxyHeader& h, std::string_view header) {
  int family = h.source.ss_family;
  FUZZ_CHECK(family == AF_INET || family == AF_INET6 || family == AF_UNIX);
  FUZZ_CHECK(h.destination.ss_family == family);
  ws::format_address(reinterpret_cast<const sockaddr*>(&h.source), h.address_len);
  ws::ip_address_of(reinterpret_cast<const sockaddr*>(&h.source));
  std::string v2 = encode_v2(h);
  check_reads_back(v2, h);
  if (h.version == 2 && header.size() == v2.size() && header[13] == v2[13]) FUZZ_CHECK(header == v2);
  if (family == AF_UNIX) return;
  std::string v1 = encode_v1(h);
  check_reads_back(v1, h);
  if (header.starts_with("PROXY TCP4 ")) FUZZ_CHECK(header == v1);
}

void check_done(const Outcome& whole, std::string_view stream) {
  std::string_view header = stream.substr(0, whole.taken);
  const ws::ProxyHeader& h = whole.header;
  if (h.version == 1) {
    FUZZ_CHECK(header.size() >= 15 && header.size() <= 107 && header.ends_with("\r\n"));
    FUZZ_CHECK(header.find('\n') == header.size() - 1 && header.find('\r') == header.size() - 2);
  } else {
    FUZZ_CHECK(h.version == 2 && header.size() >= 16);
    auto byte = [&](size_t i) { return size_t{static_cast<uint8_t>(header[i])}; };
    FUZZ_CHECK(header.size() == 16 + (byte(14) << 8 | byte(15)));
  }
  FUZZ_CHECK(same(in_chunks(header, 1), whole));
  if (h.command == ws::ProxyCommand::proxy) return check_addresses(h, header);
  ws::ProxyHeader nothing;
  FUZZ_CHECK(h.address_len == 0 && same_addresses(h, nothing));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 32 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = in_chunks(stream, std::max<size_t>(stream.size(), 1));
  FUZZ_CHECK(whole.taken <= stream.size());
  FUZZ_CHECK(whole.status != Status::need_more || whole.taken == stream.size());
  FUZZ_CHECK((whole.status == Status::bad) == !whole.reason.empty());
  FUZZ_CHECK(same(in_chunks(stream, chunk), whole));
  FUZZ_CHECK(same(in_chunks(stream, 1), whole));
  FUZZ_CHECK(same(by_want(stream), whole));
  if (whole.status == Status::done) check_done(whole, stream);
  return 0;
}
