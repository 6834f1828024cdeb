// The pure parts of the slow-client limits (issue 11, finding 6): the
// minimum-rate deadline of a message, the replies allowed before AUTH, and
// the per-address table of failed AUTHs.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../support/replies.hpp"
#include "wsserver/auth_limit.hpp"
#include "wsserver/connection.hpp"
#include "wsserver/session.hpp"

namespace {

ws::IpAddress ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  ws::IpAddress ip;
  ip.family = AF_INET;
  ip.bytes[0] = a, ip.bytes[1] = b, ip.bytes[2] = c, ip.bytes[3] = d;
  return ip;
}

}  // namespace

TEST_CASE("a message has idle_timeout from its first byte, and longer only at min_rate") {
  // 2 s at 1024 bytes/s: a slow start is allowed its idle_timeout.
  CHECK(ws::message_deadline(1000, 1, 2000, 1024) == 3000);
  CHECK(ws::message_deadline(1000, 2048, 2000, 1024) == 3000);
  // Past that, every 1024 bytes buy one more second from the first byte.
  CHECK(ws::message_deadline(1000, 10240, 2000, 1024) == 11000);
  CHECK(ws::message_deadline(0, uint64_t{1} << 30, 1000, 1024) == (int64_t{1} << 20) * 1000);
}

TEST_CASE("the message deadline is off when idle_timeout or min_rate is 0") {
  CHECK(ws::message_deadline(1000, 1, 0, 1024) == INT64_MAX);
  CHECK(ws::message_deadline(1000, 1, 2000, 0) == INT64_MAX);
  CHECK(ws::message_deadline(0, ~uint64_t{0}, 2000, 1) == INT64_MAX);  // no overflow
}

TEST_CASE("before AUTH the third answered message ends the session") {
  const std::string secret = "s";
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {65536, &secret});
  test::Output out;
  std::string flood(65536, '\0');
  auto r = session.receive(flood, out);
  CHECK(r.step == ws::Session::Step::unauthenticated);
  CHECK(r.consumed == 3);
  CHECK(out.text() == std::string("ERR authentication required\0", 28) + std::string("ERR authentication required\0", 28) +
                   std::string("ERR authentication required\0", 28));
}

TEST_CASE("commands before AUTH are not counted as unauthenticated messages") {
  const std::string secret = "s";
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {65536, &secret});
  test::Output out;
  CHECK(session.receive("x\ny\n", out).step == ws::Session::Step::more);
  CHECK(session.receive("AUTH s\n", out).step == ws::Session::Step::more);
  CHECK(session.authenticated());
  for (int i = 0; i < 10; ++i) CHECK(session.receive("a b\n", out).step == ws::Session::Step::more);
}

TEST_CASE("message_bytes counts the message in progress only") {
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {65536});
  test::Output out;
  session.receive("abc", out);
  CHECK(session.message_bytes() == 3);
  session.receive("de\nfg", out);
  CHECK(session.message_bytes() == 2);
  session.receive("\n", out);
  CHECK(session.message_bytes() == 0);
  CHECK_FALSE(session.in_message());
}

TEST_CASE("an address is refused once it passes auth_max_failures in a minute, for a minute") {
  auto limit = ws::AuthLimit::create();
  auto a = ipv4(10, 0, 0, 1), b = ipv4(10, 0, 0, 2);
  bool started = false;
  CHECK_FALSE(limit.record_failure(a, 1000, 2, &started));
  CHECK_FALSE(limit.record_failure(a, 2000, 2, &started));
  CHECK_FALSE(limit.blocked(a, 2000));
  CHECK(limit.record_failure(a, 3000, 2, &started));
  CHECK(started);
  CHECK(limit.blocked(a, 3000));
  CHECK(limit.record_failure(a, 4000, 2, &started));
  CHECK_FALSE(started);  // logged once
  CHECK_FALSE(limit.blocked(b, 4000));
  CHECK(limit.blocked(a, 3000 + ws::AuthLimit::window_ms - 1));
  CHECK_FALSE(limit.blocked(a, 3000 + ws::AuthLimit::window_ms));
  CHECK_FALSE(limit.record_failure(a, 3000 + ws::AuthLimit::window_ms, 2, &started));
}

TEST_CASE("failures older than a minute are forgotten") {
  auto limit = ws::AuthLimit::create();
  auto a = ipv4(10, 0, 0, 1);
  bool started = false;
  for (int64_t t = 0; t < 10; ++t) CHECK_FALSE(limit.record_failure(a, t * 40000, 2, &started));
}

TEST_CASE("unix socket clients and a limit of 0 are never counted") {
  auto limit = ws::AuthLimit::create();
  bool started = false;
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limit.record_failure(ws::IpAddress{}, 1000, 1, &started));
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limit.record_failure(ipv4(10, 0, 0, 1), 1000, 0, &started));
  CHECK_FALSE(limit.blocked(ipv4(10, 0, 0, 1), 1000));
}

TEST_CASE("a full failure table gives way to the address heard from longest ago") {
  auto limit = ws::AuthLimit::create();
  bool started = false;
  auto first = ipv4(10, 1, 0, 0);
  limit.record_failure(first, 1, 1, &started);
  CHECK(limit.record_failure(first, 2, 1, &started));  // refused
  for (int i = 1; i < ws::AuthLimit::entries; ++i)
    limit.record_failure(ipv4(10, 2, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), 10 + i, 1, &started);
  CHECK(limit.blocked(first, 5000));  // the table is full but nothing was evicted yet
  limit.record_failure(ipv4(10, 3, 0, 0), 5000, 1, &started);
  CHECK_FALSE(limit.blocked(first, 5000));
}

TEST_CASE("failures recorded by one process are seen by another") {
  auto limit = ws::AuthLimit::create();
  auto a = ipv4(192, 0, 2, 7);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    bool started = false;
    for (int i = 0; i < 3; ++i) limit.record_failure(a, 1000 + i, 2, &started);
    _exit(started ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(limit.blocked(a, 2000));
}
