// Listen addresses and CIDR ranges.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include "wsserver/address.hpp"
#include "wsserver/cidr.hpp"

TEST_CASE("listen addresses in every form") {
  auto port = ws::parse_listen_address("9000", nullptr);
  REQUIRE(port);
  CHECK(port->type == ws::SocketType::tcp);
  CHECK(port->host.empty());
  CHECK(port->port == 9000);

  auto host = ws::parse_listen_address("127.0.0.1:80", nullptr);
  REQUIRE(host);
  CHECK(host->host == "127.0.0.1");
  CHECK(host->port == 80);

  auto v6 = ws::parse_listen_address("[::1]:0", nullptr);
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);

  auto star = ws::parse_listen_address("*:81", nullptr);
  REQUIRE(star);
  CHECK(star->host.empty());

  auto unix_socket = ws::parse_listen_address("unix:/run/w.sock", nullptr);
  REQUIRE(unix_socket);
  CHECK(unix_socket->type == ws::SocketType::unix_stream);
  CHECK(unix_socket->path == "/run/w.sock");

  auto udp = ws::parse_listen_address("udp:[::1]:53", nullptr);
  REQUIRE(udp);
  CHECK(udp->type == ws::SocketType::udp);
  CHECK(udp->host == "::1");
  CHECK(udp->port == 53);

  auto name = ws::parse_listen_address("localhost:9000", nullptr);
  REQUIRE(name);
  CHECK(name->host == "localhost");
}

TEST_CASE("listen addresses with the proxy: and ws: transport prefixes") {
  auto both = ws::parse_listen_address("proxy:ws:127.0.0.1:8080", nullptr);
  REQUIRE(both);
  CHECK((both->transport.proxy && both->transport.websocket && both->host == "127.0.0.1" && both->port == 8080));
  CHECK(both->text == "proxy:ws:127.0.0.1:8080");
  auto proxied_unix = ws::parse_listen_address("proxy:unix:/run/ws.sock", nullptr);
  REQUIRE(proxied_unix);
  CHECK((proxied_unix->transport.proxy && !proxied_unix->transport.websocket && proxied_unix->type == ws::SocketType::unix_stream));
  CHECK(proxied_unix->path == "/run/ws.sock");
  auto websocket = ws::parse_listen_address("ws:8080", nullptr);
  REQUIRE(websocket);
  CHECK((!websocket->transport.proxy && websocket->transport.websocket && websocket->host.empty() && websocket->port == 8080));
  auto plain = ws::parse_listen_address("9000", nullptr);
  REQUIRE(plain);
  CHECK_FALSE((plain->transport.proxy || plain->transport.websocket));
}

TEST_CASE("bad listen addresses say why") {
  for (const char* bad : {"", "x", "65536", "1.2.3.4:", ":", "[::1]", "[::1]80", "[nope]:80", "::1:80", "unix:",
                          "udp:", "a b:80", "-1", "1.2.3.4:port", "proxy:udp:53", "ws:udp:53",
                          "proxy:", "ws:"}) {
    std::string error;
    INFO(bad);
    CHECK_FALSE(ws::parse_listen_address(bad, &error));
    CHECK_THAT(error, Catch::Contains("bad listen address"));
  }
  std::string error;
  CHECK_FALSE(ws::parse_listen_address("unix:/" + std::string(200, 'x'), &error));
  CHECK_THAT(error, Catch::Contains("too long"));
}

// Found by make fuzz (address): each was accepted as the text before the NUL.
TEST_CASE("a NUL byte in a listen address is refused, not cut short") {
  using namespace std::string_literals;
  for (const std::string& bad : {"unix:/run/w\0.sock"s, "[::1\0x]:80"s, "udp:[::1\0]:53"s, "9000\0"s}) {
    std::string error;
    INFO(bad);
    CHECK_FALSE(ws::parse_listen_address(bad, &error));
    CHECK_THAT(error, Catch::Contains("holds a NUL byte"));
  }
}

namespace {

ws::IpAddress ip(const char* text) {
  sockaddr_storage ss{};
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in&>(ss).sin_addr) == 1) {
    ss.ss_family = AF_INET;
  } else {
    REQUIRE(inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr) == 1);
    ss.ss_family = AF_INET6;
  }
  return ws::ip_address_of(reinterpret_cast<sockaddr*>(&ss));
}

bool in(const char* range, const char* address) {
  auto c = ws::parse_cidr(range, nullptr);
  REQUIRE(c);
  return ws::cidr_contains(*c, ip(address));
}

}  // namespace

TEST_CASE("CIDR matching for IPv4 and IPv6") {
  CHECK(in("10.0.0.0/8", "10.255.1.2"));
  CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  CHECK(in("192.168.1.7", "192.168.1.7"));
  CHECK_FALSE(in("192.168.1.7", "192.168.1.8"));
  CHECK(in("0.0.0.0/0", "8.8.8.8"));
  CHECK(in("172.16.0.0/12", "172.31.255.255"));
  CHECK_FALSE(in("172.16.0.0/12", "172.32.0.0"));
  CHECK(in("10.1.2.3/8", "10.9.9.9"));  // host bits are ignored
  CHECK(in("2001:db8::/32", "2001:db8:1::5"));
  CHECK_FALSE(in("2001:db8::/32", "2001:db9::1"));
  CHECK(in("::1", "::1"));
  CHECK(in("::/0", "fe80::1"));
  CHECK_FALSE(in("::/0", "127.0.0.1"));  // families do not mix
  CHECK(in("fe80::/10", "febf::1"));
  CHECK_FALSE(in("fe80::/10", "fec0::1"));
}

TEST_CASE("IPv4-mapped IPv6 addresses match as IPv4") {
  CHECK(in("127.0.0.0/8", "::ffff:127.0.0.1"));
  CHECK_FALSE(in("::1", "::ffff:127.0.0.1"));
  CHECK(in("::ffff:10.0.0.0/104", "10.2.3.4"));
}

TEST_CASE("bad ranges are refused") {
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.0/8/8", "10.0.0/8", "x", "10.0.0.0/-1",
                          "10.0.0.0/ 8", "::1/1000"}) {
    INFO(bad);
    CHECK_FALSE(ws::parse_cidr(bad, nullptr));
  }
}

TEST_CASE("unix peers match no range") {
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  auto peer = ws::ip_address_of(reinterpret_cast<sockaddr*>(&ss));
  auto all = ws::parse_cidr("0.0.0.0/0", nullptr);
  CHECK_FALSE(ws::any_contains({*all}, peer));
}

TEST_CASE("a NUL byte in a range is refused, not cut short") {
  using namespace std::string_literals;
  for (const std::string& bad : {"10.0.0.0\0junk/8"s, "::1\0"s, "10.0.0.0/8\0"s}) {
    std::string error;
    INFO(bad);
    CHECK_FALSE(ws::parse_cidr(bad, &error));
    CHECK_THAT(error, Catch::Contains("holds a NUL byte"));
  }
}
