// The PROXY protocol header parser, against HAProxy's proxy-protocol.txt:
// its own examples, v2 headers built byte by byte from its layout, every
// byte split of each valid header with the client's first message behind
// it, and the malformed headers the text says to refuse.
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <initializer_list>
#include <string>

#include "../support/proxy_bytes.hpp"
#include "wsserver/address.hpp"
#include "wsserver/cidr.hpp"
#include "wsserver/proxy_header.hpp"

namespace {

using Status = ws::ProxyHeaderParser::Status;

const std::string payload = "first message\n";

struct Parsed {
  Status status = Status::need_more;
  size_t consumed = 0;
  ws::ProxyHeader header;
  std::string reason;
};

Parsed parse(const std::string& bytes) {
  ws::ProxyHeaderParser p;
  Parsed out;
  out.consumed = p.feed(bytes);
  out.status = p.status();
  out.header = p.header();
  out.reason = std::string(p.reason());
  return out;
}

std::string source(const ws::ProxyHeader& h) {
  return ws::format_address(reinterpret_cast<const sockaddr*>(&h.source), h.address_len);
}

std::string destination(const ws::ProxyHeader& h) {
  return ws::format_address(reinterpret_cast<const sockaddr*>(&h.destination), h.address_len);
}

bool same(const ws::ProxyHeader& a, const ws::ProxyHeader& b) {
  return a.version == b.version && a.command == b.command && a.address_len == b.address_len &&
         std::memcmp(&a.source, &b.source, sizeof a.source) == 0 &&
         std::memcmp(&a.destination, &b.destination, sizeof a.destination) == 0;
}

// A literal with NUL bytes in it, whole.
template <size_t N>
std::string literal(const char (&s)[N]) {
  return std::string(s, N - 1);
}

using test::bytes;
using test::v2;
using test::v2_signature;

std::string tlv(int type, const std::string& value) {
  return bytes({type, static_cast<int>(value.size() >> 8), static_cast<int>(value.size() & 0xff)}) + value;
}

// 192.168.0.1:56324 -> 192.168.0.11:443, the text's v1 example.
const std::string ipv4_block = bytes({192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb});
// [2001:db8::1]:56324 -> [2001:db8::2]:443
const std::string ipv6_block = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,   //
                                      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,   //
                                      0xdc, 0x04, 0x01, 0xbb});

std::string unix_path(const std::string& path) { return path + std::string(108 - path.size(), '\0'); }
const std::string unix_block = unix_path("/run/client.sock") + unix_path("/run/ws.sock");

// For each header: fed whole, in two pieces at every point, one byte at a
// time, and read as want() allows, with a message behind it: the same
// result, and exactly the header's bytes consumed. Returns the first
// failure, to keep a 64 KiB header's thousands of splits to one assertion.
std::string split_failure(const std::string& header) {
  std::string stream = header + payload;
  Parsed whole = parse(stream);
  if (whole.status != Status::done || whole.consumed != header.size()) return "fed whole";
  for (size_t i = 0; i <= stream.size(); ++i) {
    ws::ProxyHeaderParser p;
    size_t first = p.feed(std::string_view(stream).substr(0, i));
    if (first != std::min(i, header.size())) return "first piece of split " + std::to_string(i);
    if ((p.status() == Status::done) != (i >= header.size())) return "status after split " + std::to_string(i);
    if (first + p.feed(std::string_view(stream).substr(i)) != header.size()) return "split " + std::to_string(i);
    if (!same(p.header(), whole.header)) return "header after split " + std::to_string(i);
  }
  ws::ProxyHeaderParser bytewise;
  size_t used = 0;
  for (char c : stream) used += bytewise.feed(std::string_view(&c, 1));
  if (used != header.size() || !same(bytewise.header(), whole.header)) return "one byte at a time";
  ws::ProxyHeaderParser reader;
  size_t at = 0;
  while (reader.status() == Status::need_more) {
    size_t n = reader.want();
    if (n == 0 || at + n > header.size()) return "want() " + std::to_string(n) + " at " + std::to_string(at);
    if (reader.feed(std::string_view(stream).substr(at, n)) != n) return "want() bytes not all taken";
    at += n;
  }
  if (at != header.size() || reader.want() != 0 || !same(reader.header(), whole.header)) return "read by want()";
  return "";
}

// Fed whole and one byte at a time, refused for the same reason.
void check_bad(const std::string& header, const std::string& reason) {
  INFO(std::string("header: ") + header);
  Parsed whole = parse(header + payload);
  CHECK(whole.status == Status::bad);
  CHECK_THAT(whole.reason, Catch::Contains(reason));
  ws::ProxyHeaderParser bytewise;
  for (char c : header + payload) bytewise.feed(std::string_view(&c, 1));
  CHECK(bytewise.status() == Status::bad);
  CHECK(bytewise.reason() == whole.reason);
  CHECK(bytewise.feed("more") == 0);
  CHECK(bytewise.want() == 0);
}

void check_v1_proxy(const std::string& line, const std::string& from, const std::string& to) {
  INFO(line);
  Parsed r = parse(line + payload);
  REQUIRE(r.status == Status::done);
  CHECK(r.consumed == line.size());
  CHECK(r.header.version == 1);
  CHECK(r.header.command == ws::ProxyCommand::proxy);
  CHECK(source(r.header) == from);
  CHECK(destination(r.header) == to);
  CHECK(split_failure(line) == "");
}

}  // namespace

TEST_CASE("proxy header: the text's v1 lines", "[proxy]") {
  check_v1_proxy("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "192.168.0.1:56324", "192.168.0.11:443");
  check_v1_proxy("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", "255.255.255.255:65535",
                 "255.255.255.255:65535");
  std::string all_f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string longest_tcp6 = "PROXY TCP6 " + all_f + " " + all_f + " 65535 65535\r\n";
  CHECK(longest_tcp6.size() == 104);
  check_v1_proxy(longest_tcp6, "[" + all_f + "]:65535", "[" + all_f + "]:65535");
  check_v1_proxy("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", "0.0.0.0:0", "10.0.0.1:0");
}

TEST_CASE("proxy header: v1 TCP6 in its compressed, upper-case and IPv4-mapped forms", "[proxy]") {
  check_v1_proxy("PROXY TCP6 2001:DB8::1 ::1 1 2\r\n", "[2001:db8::1]:1", "[::1]:2");
  check_v1_proxy("PROXY TCP6 ::ffff:192.0.2.7 :: 40000 9000\r\n", "[::ffff:192.0.2.7]:40000", "[::]:9000");
  Parsed r = parse("PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n");
  REQUIRE(r.status == Status::done);
  ws::IpAddress ip = ws::ip_address_of(reinterpret_cast<const sockaddr*>(&r.header.source));
  CHECK(ip.family == AF_INET);
  CHECK(ip.bytes[0] == 192);
  CHECK(ip.bytes[3] == 7);
}

TEST_CASE("proxy header: v1 UNKNOWN keeps the socket's addresses, the rest of its line ignored", "[proxy]") {
  std::string all_f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string longest = "PROXY UNKNOWN " + all_f + " " + all_f + " 65535 65535\r\n";
  CHECK(longest.size() == 107);
  for (const std::string& line : {std::string("PROXY UNKNOWN\r\n"), longest,
                                  literal("PROXY UNKNOWN anything  at\tall\0\x7f\r\n")}) {
    INFO(line);
    Parsed r = parse(line + payload);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == line.size());
    CHECK(r.header.version == 1);
    CHECK(r.header.command == ws::ProxyCommand::local);
    CHECK(r.header.address_len == 0);
    CHECK(split_failure(line) == "");
  }
}

TEST_CASE("proxy header: v2 PROXY over IPv4, IPv6 and unix", "[proxy]") {
  struct Case {
    int family;
    std::string block, from, to;
  };
  for (const Case& c : {Case{0x11, ipv4_block, "192.168.0.1:56324", "192.168.0.11:443"},
                        Case{0x21, ipv6_block, "[2001:db8::1]:56324", "[2001:db8::2]:443"},
                        Case{0x31, unix_block, "unix:/run/client.sock", "unix:/run/ws.sock"}}) {
    std::string header = v2(0x21, c.family, c.block);
    INFO(c.from);
    Parsed r = parse(header + payload);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == header.size());
    CHECK(r.header.version == 2);
    CHECK(r.header.command == ws::ProxyCommand::proxy);
    CHECK(source(r.header) == c.from);
    CHECK(destination(r.header) == c.to);
    CHECK(split_failure(header) == "");
  }
}

TEST_CASE("proxy header: a v2 unix path may fill all 108 bytes", "[proxy]") {
  std::string path = "/" + std::string(107, 'p');
  Parsed r = parse(v2(0x21, 0x31, path + unix_path("/s")));
  REQUIRE(r.status == Status::done);
  CHECK(source(r.header) == "unix:" + path);
  CHECK(destination(r.header) == "unix:/s");
}

TEST_CASE("proxy header: v2 TLVs are skipped, however long", "[proxy]") {
  std::string tlvs = tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "") + tlv(0x05, std::string(128, 'u')) +
                     tlv(0x20, bytes({0x01, 0, 0, 0, 0}) + tlv(0x21, "TLSv1.3")) + tlv(0xe0, std::string(1000, '\xff'));
  for (const std::string& header : {v2(0x21, 0x11, ipv4_block + tlvs), v2(0x21, 0x21, ipv6_block + tlvs),
                                    v2(0x21, 0x31, unix_block + tlvs), v2(0x20, 0x00, tlvs)}) {
    Parsed r = parse(header + payload);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == header.size());
    CHECK(split_failure(header) == "");
  }
  Parsed r = parse(v2(0x21, 0x11, ipv4_block + tlvs));
  CHECK(source(r.header) == "192.168.0.1:56324");
}

TEST_CASE("proxy header: the longest v2 header, 16 + 65535 bytes", "[proxy]") {
  std::string header = v2(0x21, 0x11, ipv4_block + tlv(0x04, std::string(65535 - 12 - 3, '\0')));
  REQUIRE(header.size() == 16 + 65535);
  CHECK(split_failure(header) == "");
  ws::ProxyHeaderParser p;
  p.feed(std::string_view(header).substr(0, 16));
  CHECK(p.want() == 65535);
}

TEST_CASE("proxy header: v2 LOCAL keeps the socket's addresses, whatever block it carries", "[proxy]") {
  // The text: the receiver must honour the length, not assume zero for
  // LOCAL, and ignore the family.
  for (const std::string& header : {v2(0x20, 0x00, ""), v2(0x20, 0x11, ipv4_block), v2(0x20, 0x21, ipv6_block),
                                    v2(0x20, 0xff, "abc"), v2(0x20, 0x11, "")}) {
    Parsed r = parse(header + payload);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == header.size());
    CHECK(r.header.version == 2);
    CHECK(r.header.command == ws::ProxyCommand::local);
    CHECK(split_failure(header) == "");
  }
}

TEST_CASE("proxy header: v2 PROXY of an unspecified family or transport keeps the socket's addresses", "[proxy]") {
  for (const std::string& header : {v2(0x21, 0x00, ""), v2(0x21, 0x10, ipv4_block), v2(0x21, 0x01, "xyz"),
                                    v2(0x21, 0x30, "")}) {
    Parsed r = parse(header + payload);
    REQUIRE(r.status == Status::done);
    CHECK(r.consumed == header.size());
    CHECK(r.header.command == ws::ProxyCommand::local);
  }
}

TEST_CASE("proxy header: want() is the shortest header first, then exact for v2", "[proxy]") {
  ws::ProxyHeaderParser p;
  CHECK(p.want() == 15);
  p.feed("PROXY UNKNOWN");
  CHECK(p.want() == 2);
  p.feed("\r");
  CHECK(p.want() == 1);
  ws::ProxyHeaderParser q;
  q.feed(v2_signature.substr(0, 5));
  CHECK(q.want() == 11);
  q.feed(v2(0x21, 0x11, ipv4_block).substr(5, 11));
  CHECK(q.want() == 12);
}

TEST_CASE("proxy header: a partial header asks for more, never fails for lack of bytes", "[proxy]") {
  for (const std::string& header : {std::string("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
                                    v2(0x21, 0x21, ipv6_block + tlv(1, "h2"))}) {
    for (size_t n = 0; n < header.size(); ++n) {
      Parsed r = parse(header.substr(0, n));
      INFO(n);
      CHECK(r.status == Status::need_more);
      CHECK(r.consumed == n);
    }
  }
}

TEST_CASE("proxy header: wrong signatures", "[proxy]") {
  for (const char* bad : {"GET / HTTP/1.1\r\n", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                          "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
                          "PROXZ UNKNOWN\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "\r\n\r\n\r\n"})
    check_bad(bad, "bad signature");
  for (size_t i = 0; i < 12; ++i) {
    std::string header = v2(0x21, 0x11, ipv4_block);
    header[i] = static_cast<char>(header[i] ^ 0x40);
    check_bad(header, "bad signature");
  }
}

TEST_CASE("proxy header: v1 longer than 107 bytes, or ended by anything but CRLF", "[proxy]") {
  check_bad("PROXY UNKNOWN " + std::string(200, 'a'), "longer than 107");
  // 108 bytes with its CRLF: one too many, though it ends well.
  check_bad("PROXY UNKNOWN " + std::string(92, 'a') + "\r\n", "longer than 107");
  check_bad("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "CRLF");
  check_bad("PROXY UNKNOWN\n", "CRLF");
  check_bad("PROXY UNKNOWN\r", "CRLF");  // the payload's first byte follows the CR
  check_bad("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n", "CRLF");
  check_bad("PROXY UNKNOWN a\nb\r\n", "CRLF");
}

TEST_CASE("proxy header: v1 fields out of place", "[proxy]") {
  for (const char* bad : {"PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n",
                          "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",
                          "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
                          "PROXY TCP4 192.168.0.1 192.168.0.11 1 2 3\r\n",
                          "PROXY TCP4\r\n", "PROXY \r\n", "PROXY UNKNOWNX\r\n", " PROXY UNKNOWN\r\n"})
    check_bad(bad, "");
  for (const char* bad : {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                          "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"})
    check_bad(bad, "unknown protocol");
}

TEST_CASE("proxy header: v1 bad addresses", "[proxy]") {
  for (const char* a : {"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "+1.2.3.4", "1.2.3.4/8", "::1",
                        "localhost", "0x1.2.3.4", "1.2.3.-4"})
    check_bad(std::string("PROXY TCP4 ") + a + " 10.0.0.1 1 2\r\n", "bad address");
  for (const char* a : {"1.2.3.4", "2001:db8::1::2", "12345::1", "g::1", "[::1]", "::1%lo", ":::1"})
    check_bad(std::string("PROXY TCP6 ::2 ") + a + " 1 2\r\n", "bad address");
  // inet_pton() would read up to the NUL and take the address for 1.2.3.4.
  check_bad(literal("PROXY TCP4 1.2.3.4\0x 10.0.0.1 1 2\r\n"), "bad address");
}

TEST_CASE("proxy header: v1 bad ports", "[proxy]") {
  for (const char* port : {"65536", "+80", "080", "00", "-1", "123456", "8O", "0x50", "99999", " 1"})
    check_bad(std::string("PROXY TCP4 1.2.3.4 5.6.7.8 ") + port + " 443\r\n", "");
  for (const char* port : {"65536", "+80", "080", "00", "-1", "8O", "0x50"}) {
    check_bad(std::string("PROXY TCP4 1.2.3.4 5.6.7.8 ") + port + " 443\r\n", "bad port");
    check_bad(std::string("PROXY TCP4 1.2.3.4 5.6.7.8 443 ") + port + "\r\n", "bad port");
  }
}

TEST_CASE("proxy header: v2 bad version or command", "[proxy]") {
  for (int ver_cmd : {0x01, 0x11, 0x31, 0xf1, 0x10})
    check_bad(v2(ver_cmd, 0x11, ipv4_block), "bad version");
  for (int ver_cmd : {0x22, 0x23, 0x2f})
    check_bad(v2(ver_cmd, 0x11, ipv4_block), "bad command");
}

TEST_CASE("proxy header: v2 unknown family or transport, and datagrams", "[proxy]") {
  for (int family : {0x41, 0x51, 0xf1, 0x40})
    check_bad(v2(0x21, family, std::string(216, '\0')), "unknown address family");
  for (int family : {0x13, 0x1f, 0x33})
    check_bad(v2(0x21, family, std::string(216, '\0')), "unknown transport");
  for (int family : {0x12, 0x22, 0x32, 0x02})
    check_bad(v2(0x21, family, std::string(216, '\0')), "datagram");
}

TEST_CASE("proxy header: a v2 length shorter than its family's address block", "[proxy]") {
  check_bad(v2(0x21, 0x11, ipv4_block.substr(0, 11)), "shorter than its address block");
  check_bad(v2(0x21, 0x11, ""), "shorter than its address block");
  check_bad(v2(0x21, 0x21, ipv6_block.substr(0, 35)), "shorter than its address block");
  check_bad(v2(0x21, 0x21, ipv4_block), "shorter than its address block");
  check_bad(v2(0x21, 0x31, unix_block.substr(0, 215)), "shorter than its address block");
}

TEST_CASE("proxy header: nothing is taken once done", "[proxy]") {
  ws::ProxyHeaderParser p;
  CHECK(p.feed("PROXY UNKNOWN\r\n") == 15);
  CHECK(p.status() == Status::done);
  CHECK(p.feed("PROXY UNKNOWN\r\n") == 0);
  CHECK(p.want() == 0);
}

TEST_CASE("proxy header: a v2 TLV that runs past the header's length", "[proxy]") {
  // The length field says where the header ends; a TLV claiming more, or a
  // TLV's own 3 bytes cut short by it, means one of them lies.
  std::string cut = tlv(0x04, std::string(10, 'x'));
  check_bad(v2(0x21, 0x11, ipv4_block + cut.substr(0, cut.size() - 1)), "TLV runs past");
  check_bad(v2(0x21, 0x11, ipv4_block + tlv(0x01, "h2") + bytes({0x04})), "TLV runs past");
  check_bad(v2(0x21, 0x11, ipv4_block + bytes({0x04, 0})), "TLV runs past");
  check_bad(v2(0x21, 0x21, ipv6_block + bytes({0x04, 0xff, 0xff})), "TLV runs past");
  // Past the stored address block too, after a long TLV that is fine.
  std::string long_tlv = tlv(0xe0, std::string(1000, 'a'));
  check_bad(v2(0x21, 0x31, unix_block + long_tlv + bytes({0x04, 0, 5}) + "abc"), "TLV runs past");
  // One that ends exactly with the header is whole.
  for (const std::string& header : {v2(0x21, 0x11, ipv4_block + cut), v2(0x21, 0x31, unix_block + long_tlv + tlv(4, ""))}) {
    Parsed r = parse(header + payload);
    CHECK(r.status == Status::done);
    CHECK(split_failure(header) == "");
  }
  // LOCAL and unspecified headers are ignored past their fixed part, TLVs too.
  for (const std::string& header : {v2(0x20, 0x11, ipv4_block + bytes({0x04, 0xff})), v2(0x21, 0x00, bytes({1, 9}))}) {
    Parsed r = parse(header + payload);
    CHECK(r.status == Status::done);
    CHECK(r.header.command == ws::ProxyCommand::local);
  }
}
