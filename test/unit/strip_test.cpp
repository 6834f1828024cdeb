// The strip service's byte rule and its streaming.
#include <catch2/catch.hpp>
#include <random>

#include "../support/replies.hpp"
#include "wsserver/service.hpp"
#include "wsserver/strip.hpp"

TEST_CASE("strip removes exactly space tab LF VT FF CR") {
  for (int c = 0; c < 256; ++c) {
    bool expected = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    CHECK(ws::is_strip_space(static_cast<unsigned char>(c)) == expected);
  }
}

TEST_CASE("strip keeps UTF-8 control and binary bytes") {
  std::string in = "caf\xc3\xa9 \x01\x7f\xff\x80 x";
  std::string out;
  CHECK(ws::strip_append(in, out) == in.size() - 2);
  CHECK(out == "caf\xc3\xa9\x01\x7f\xff\x80x");
}

TEST_CASE("strip appends after what the buffer holds") {
  std::string out = "ab";
  ws::strip_append(" c\td ", out);
  CHECK(out == "abcd");
}

TEST_CASE("strip service ends each message with the reply terminator") {
  for (auto [t, bytes] : {std::pair{ws::Terminator::nul, std::string("\0", 1)}, std::pair{ws::Terminator::lf, std::string("\n")},
                          std::pair{ws::Terminator::crlf, std::string("\r\n")}}) {
    auto service = ws::make_service(ws::ServiceKind::strip, {});
    test::Output out(t);
    service->feed("a b", out);
    service->feed("\tc", out);
    service->end(out);
    CHECK(out.text() == "abc" + bytes);
  }
}

TEST_CASE("echo keeps white space and drops one trailing CR even across parts") {
  auto service = ws::make_service(ws::ServiceKind::echo, {});
  test::Output out(ws::Terminator::lf);
  service->feed(" a b\r", out);
  service->end(out);
  service->feed("x\r", out);
  service->feed("\ry", out);
  service->end(out);
  service->feed("\r\r", out);
  service->end(out);
  CHECK(out.text() == " a b\nx\r\ry\n\r\n");
}

TEST_CASE("the vector strip matches the portable one on every length and byte") {
  std::mt19937 rng(99);
  for (int round = 0; round < 2000; ++round) {
    size_t length = rng() % 200;
    std::string in(length, '\0');
    // Dense white space in some rounds, none in others, any byte in between.
    int mode = round % 3;
    for (auto& c : in) {
      unsigned r = rng();
      c = mode == 0 ? " \t\n\v\f\rab"[r % 8] : mode == 1 ? static_cast<char>('a' + r % 26) : static_cast<char>(r & 0xff);
    }
    std::string fast = "prefix", portable = "prefix";
    size_t a = ws::strip_append(in, fast), b = ws::strip_append_portable(in, portable);
    REQUIRE(a == b);
    REQUIRE(fast == portable);
  }
}
