// proxy: listeners (SPEC 8 and 9) over raw sockets: the PROXY header, v1
// or v2, read exactly, its address the client's for the access log,
// -s status, deny and max_per_ip; bad, late, untrusted or missing headers
// closed without a reply and logged `proxy-header`.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <initializer_list>
#include <regex>
#include <thread>

#include "../support/client.hpp"
#include "../support/proxy_bytes.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

using test::bytes;
using test::v2;
using test::v2_signature;

// 198.51.100.9:1234 -> 127.0.0.1:9000
const std::string ipv4_block = bytes({198, 51, 100, 9, 127, 0, 0, 1, 0x04, 0xd2, 0x23, 0x28});
// [2001:db8::5]:4321 -> [::1]:9000
const std::string ipv6_block = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,  //
                                      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,              //
                                      0x10, 0xe1, 0x23, 0x28});

std::string unix_path(const std::string& path) { return path + std::string(108 - path.size(), '\0'); }

std::vector<std::string> proxy_args(std::vector<std::string> extra = {}, int workers = 3) {
  std::vector<std::string> args{"--listen", "proxy:127.0.0.1:0", "--workers", std::to_string(workers), "--access_log",
                                "{dir}/access.log"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string access_log(const Server& s) { return test::read_file(s.dir().file("access.log")); }

bool logged(const Server& s, const std::string& pattern, size_t count = 1) {
  return test::wait_until([&] {
    std::string log = access_log(s);
    std::regex re(pattern);
    return static_cast<size_t>(std::distance(std::sregex_iterator(log.begin(), log.end(), re), std::sregex_iterator())) >=
           count;
  });
}

Client from(const Server& s, const std::string& source = "127.0.0.1", size_t listener = 0) {
  auto c = Client::try_connect(s.port(listener), "127.0.0.1", source);
  REQUIRE(c);
  return std::move(*c);
}

std::string status_of(const Server& s) { return test::run_wsserver(s.same_files({"-s", "status"})).out; }

// Closed without a byte of reply.
bool closed_unanswered(Client& c, std::chrono::milliseconds timeout = 8s) { return c.read_to_eof(timeout) == ""; }

}  // namespace

TEST_CASE("proxy: a v1 header's address is the client's in -s status and the access log", "[proxy]") {
  Server s(proxy_args());
  Client c = from(s);
  REQUIRE(c.send("PROXY TCP4 192.0.2.7 127.0.0.1 40001 9000\r\nhello world\n"));
  CHECK(c.reply() == "helloworld");
  CHECK_THAT(status_of(s), Catch::Contains(" 192.0.2.7:40001 "));
  c.send("exit\n");
  CHECK(c.closed_within(5s));
  CHECK(logged(s, " 192\\.0\\.2\\.7:40001 [0-9]+ [0-9.]+ 1 [0-9]+ [0-9]+ exit\n"));
}

TEST_CASE("proxy: v2 headers over IPv4 and IPv6, TLVs skipped", "[proxy]") {
  Server s(proxy_args());
  std::string tlvs = bytes({0x01, 0, 2}) + "h2" + bytes({0x04, 0, 3}) + "abc";
  Client four = from(s), six = from(s);
  REQUIRE(four.send(v2(0x21, 0x11, ipv4_block + tlvs) + "a b\n"));
  REQUIRE(six.send(v2(0x21, 0x21, ipv6_block) + "c d\n"));
  CHECK(four.reply() == "ab");
  CHECK(six.reply() == "cd");
  std::string status = status_of(s);
  CHECK_THAT(status, Catch::Contains(" 198.51.100.9:1234 "));
  CHECK_THAT(status, Catch::Contains(" [2001:db8::5]:4321 "));
  four.close();
  six.close();
  CHECK(logged(s, " 198\\.51\\.100\\.9:1234 .* client-closed\n"));
  CHECK(logged(s, " \\[2001:db8::5\\]:4321 .* client-closed\n"));
}

TEST_CASE("proxy: v2 LOCAL and v1 UNKNOWN keep the socket's own addresses", "[proxy]") {
  Server s(proxy_args());
  Client local = from(s, "127.0.0.5"), unknown = from(s, "127.0.0.6");
  REQUIRE(local.send(v2(0x20, 0x00, "") + "x y\n"));
  REQUIRE(unknown.send("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nz w\n"));
  CHECK(local.reply() == "xy");
  CHECK(unknown.reply() == "zw");
  local.close();
  unknown.close();
  CHECK(logged(s, " 127\\.0\\.0\\.5:[0-9]+ .* client-closed\n"));
  CHECK(logged(s, " 127\\.0\\.0\\.6:[0-9]+ .* client-closed\n"));
}

TEST_CASE("proxy: a v2 header of the unix family on a proxy:unix: listener, always trusted", "[proxy]") {
  // proxy_from names no local address: a unix socket's peer is trusted anyway.
  Server s({"--listen", "proxy:unix:{dir}/p.sock", "--workers", "2", "--proxy_from", "10.0.0.0/8", "--access_log",
            "{dir}/access.log"});
  Client c = Client::connect_unix(s.dir().file("p.sock"));
  REQUIRE(c.send(v2(0x21, 0x31, unix_path("/run/client.sock") + unix_path("/run/ws.sock")) + "over unix\n"));
  CHECK(c.reply() == "overunix");
  c.send("exit\n");
  CHECK(c.closed_within(5s));
  CHECK(logged(s, "Z unix [0-9]+ [0-9.]+ 1 [0-9]+ [0-9]+ exit\n"));
}

TEST_CASE("proxy: the header split byte by byte, the first message right behind it", "[proxy]") {
  Server s(proxy_args());
  for (const std::string& header : {std::string("PROXY TCP6 2001:db8::5 ::1 4321 9000\r\n"),
                                    v2(0x21, 0x11, ipv4_block + bytes({0x04, 0, 1, 0}))}) {
    Client c = from(s);
    int one = 1;
    setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Every byte its own segment; the last one shares the messages'.
    for (size_t i = 0; i + 1 < header.size(); ++i) {
      REQUIRE(c.send(header.substr(i, 1)));
      std::this_thread::sleep_for(2ms);
    }
    REQUIRE(c.send(header.back() + std::string("first message\nsecond\0third", 26)));
    CHECK(c.reply() == "firstmessage");
    CHECK(c.reply() == "second");
    c.half_close();
    CHECK(c.reply() == "third");
  }
  CHECK(logged(s, " \\[2001:db8::5\\]:4321 [0-9]+ [0-9.]+ 3 "));
  CHECK(logged(s, " 198\\.51\\.100\\.9:1234 [0-9]+ [0-9.]+ 3 "));
}

TEST_CASE("proxy: a listener without proxy: beside one with it reads no header", "[proxy]") {
  Server s({"--listen", "proxy:127.0.0.1:0", "--listen", "127.0.0.1:0", "--workers", "2"});
  Client plain = from(s, "127.0.0.1", 1);
  REQUIRE(plain.send("PROXY UNKNOWN\r\nabc\n"));
  CHECK(plain.reply() == "PROXYUNKNOWN");
  CHECK(plain.reply() == "abc");
}

TEST_CASE("proxy: a header not complete within 5 s is closed without a reply", "[proxy]") {
  Server s(proxy_args());
  auto started = test::Clock::now();
  Client partial = from(s), silent = from(s);
  REQUIRE(partial.send("PROXY TCP4 192.0.2.1 "));
  CHECK(closed_unanswered(partial, 9s));
  CHECK(closed_unanswered(silent, 9s));
  auto took = test::Clock::now() - started;
  CHECK(took >= 4900ms);
  CHECK(took < 8s);
  CHECK(logged(s, " 127\\.0\\.0\\.1:[0-9]+ [0-9]+ [0-9.]+ 0 [0-9]+ 0 proxy-header\n", 2));
  // The workers are free again.
  Client after = from(s);
  after.send("PROXY UNKNOWN\r\nok\n");
  CHECK(after.reply() == "ok");
}

TEST_CASE("proxy: a header from outside proxy_from is not believed", "[proxy]") {
  Server s(proxy_args({"--proxy_from", "127.0.0.2/32"}));
  std::string header = "PROXY TCP4 192.0.2.9 127.0.0.1 5555 9000\r\n";
  Client stranger = from(s, "127.0.0.3");
  REQUIRE(stranger.send(header + "hello\n"));
  CHECK(closed_unanswered(stranger));
  CHECK(logged(s, " 127\\.0\\.0\\.3:[0-9]+ .* proxy-header\n"));
  CHECK_THAT(access_log(s), !Catch::Contains("192.0.2.9"));
  Client trusted = from(s, "127.0.0.2");
  REQUIRE(trusted.send(header + "hello\n"));
  CHECK(trusted.reply() == "hello");
}

TEST_CASE("proxy: each bad header is closed without a reply and logged proxy-header", "[proxy]") {
  Server s(proxy_args({}, 4));
  struct Bad {
    std::string bytes, reason;
  };
  std::vector<Bad> bad{
      {"hello world\n", "bad signature"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad signature"},
      {"PROXY UNKNOWN " + std::string(100, 'a') + "\r\n", "longer than 107"},
      {"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n", "CRLF"},
      {"PROXY TCP4 192.0.2.1 127.0.0.1 1\r\n", "wrong number of fields"},
      {"PROXY TCP4 192.0.2.300 127.0.0.1 1 2\r\n", "bad address"},
      {"PROXY TCP4 192.0.2.1 127.0.0.1 1 080\r\n", "bad port"},
      {v2(0x11, 0x11, ipv4_block), "bad version"},
      {v2(0x22, 0x11, ipv4_block), "bad command"},
      {v2(0x21, 0x11, ipv4_block.substr(0, 8)), "shorter than its address block"},
      {v2(0x21, 0x21, ipv4_block), "shorter than its address block"},
      {v2(0x21, 0x41, std::string(216, 'x')), "unknown address family"},
      {v2(0x21, 0x11, ipv4_block + bytes({0x04, 0, 9}) + "abc"), "TLV runs past"},
  };
  for (const Bad& b : bad) {
    INFO(b.reason);
    Client c = from(s);
    REQUIRE(c.send(b.bytes + "after\n"));
    CHECK(closed_unanswered(c, 3s));
  }
  // A v2 length that overruns what comes: the connection ends inside it.
  Client overrun = from(s);
  REQUIRE(overrun.send(v2(0x21, 0x11, ipv4_block + bytes({0x04, 0, 200}) + std::string(200, 'x')).substr(0, 16 + 15 + 10) + "hello\n"));
  overrun.half_close();
  CHECK(closed_unanswered(overrun, 3s));
  CHECK(logged(s, " proxy-header\n", bad.size() + 1));
  std::string log = s.log();
  for (const Bad& b : bad) CHECK_THAT(log, Catch::Contains(b.reason));
  // Still serving.
  Client good = from(s);
  good.send("PROXY UNKNOWN\r\nfine\n");
  CHECK(good.reply() == "fine");
}

TEST_CASE("proxy: deny and max_per_ip apply to the header's address", "[proxy]") {
  Server s(proxy_args({"--deny", "203.0.113.0/24", "--max_per_ip", "1"}, 4));
  auto header = [](const std::string& ip) { return "PROXY TCP4 " + ip + " 127.0.0.1 7000 9000\r\n"; };
  Client denied = from(s);
  REQUIRE(denied.send(header("203.0.113.5") + "hi\n"));
  CHECK(closed_unanswered(denied));
  CHECK(logged(s, " 203\\.0\\.113\\.5:7000 .* refused\n"));
  // All from 127.0.0.1 in fact; the header's address is what is counted.
  Client first = from(s), second = from(s), other = from(s);
  REQUIRE(first.send(header("198.51.100.1") + "one\n"));
  CHECK(first.reply() == "one");
  REQUIRE(other.send(header("198.51.100.2") + "two\n"));
  CHECK(other.reply() == "two");
  REQUIRE(second.send(header("198.51.100.1") + "three\n"));
  CHECK(second.reply() == "ERR too many connections from your address");
  CHECK(second.closed_within(3s));
  CHECK(logged(s, " 198\\.51\\.100\\.1:7000 .* per-ip-limit\n"));
}

// [no-valgrind]: it measures how soon the stop ends, which valgrind's own
// start and exit of each process outlast.
TEST_CASE("proxy: a fast stop does not wait for a header to come", "[proxy][no-valgrind]") {
  Server s(proxy_args({}, 2));
  Client waiting = from(s);
  REQUIRE(waiting.send("PROXY TCP4 "));
  REQUIRE(test::wait_until([&] { return status_of(s).find("(1 busy") != std::string::npos; }));
  auto started = test::Clock::now();
  s.signal(SIGINT);
  CHECK(s.wait_exit(4s) == 0);
  CHECK(waiting.closed_within(1s));
  CHECK(test::Clock::now() - started < 3s);
}
