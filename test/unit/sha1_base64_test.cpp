// SHA-1 against FIPS 180's examples (as RFC 3174 section 7.3 lists them),
// base64 against RFC 4648 section 10, and the UTF-8 validator against
// RFC 3629's table: what the WebSocket handshake and text frames rest on.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "wsserver/base64.hpp"
#include "wsserver/sha1.hpp"
#include "wsserver/utf8.hpp"

namespace {

std::string hex(const std::array<uint8_t, 20>& digest) {
  std::string out;
  char buf[3];
  for (uint8_t b : digest) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

}  // namespace

TEST_CASE("sha1: the FIPS 180 examples", "[websocket]") {
  CHECK(hex(ws::sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(ws::sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex(ws::sha1(std::string(1000000, 'a'))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // RFC 3174's fourth test: "01234567" 80 times, ten full blocks.
  std::string test4;
  for (int i = 0; i < 80; ++i) test4 += "01234567";
  CHECK(hex(ws::sha1(test4)) == "dea356a2cddd90c7a7ecedc5ebb563934f460452");
  CHECK(hex(ws::sha1("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

// Every length around the block's padding boundary: 55 bytes still pad in
// one block, 56 need two.
TEST_CASE("sha1: lengths at the padding boundary", "[websocket]") {
  CHECK(hex(ws::sha1(std::string(55, 'a'))) == "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  CHECK(hex(ws::sha1(std::string(56, 'a'))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  CHECK(hex(ws::sha1(std::string(64, 'a'))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST_CASE("base64: the RFC 4648 vectors", "[websocket]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(ws::base64_encode(plain) == encoded);
    CHECK(ws::base64_decode(encoded) == std::optional<std::string>(plain));
  }
}

TEST_CASE("base64: every byte value reads back", "[websocket]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= 6; ++n) CHECK(ws::base64_decode(ws::base64_encode(all.substr(n))) == all.substr(n));
}

TEST_CASE("base64: malformed text is refused", "[websocket]") {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm9*", "=Zm9"}) {
    INFO(bad);
    CHECK_FALSE(ws::base64_decode(bad).has_value());
  }
}

TEST_CASE("utf8: valid text, byte by byte", "[websocket]") {
  for (std::string text : {"", "plain", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                           "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "κόσμε", "\x7f"}) {
    INFO(text);
    CHECK(ws::valid_utf8(text));
  }
  CHECK(ws::valid_utf8(std::string(1, '\0')));
}

TEST_CASE("utf8: overlongs, surrogates, past U+10FFFF and truncation are refused", "[websocket]") {
  for (std::string text : {"\xc0\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",  // overlong
                           "\xed\xa0\x80", "\xed\xbf\xbf",                                // surrogates
                           "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",                // past U+10FFFF
                           "\x80", "\xbf", "\xc2", "\xe0\xa0", "\xf0\x90\x80", "\xc2\x41"}) {
    INFO(text);
    CHECK_FALSE(ws::valid_utf8(text));
  }
}

// A validator fed in pieces knows an invalid byte at once, and a complete
// character only at its last byte.
TEST_CASE("utf8: fails at the first impossible byte", "[websocket]") {
  ws::Utf8Validator v;
  CHECK(v.feed(std::string("\xf0\x90")));
  CHECK_FALSE(v.complete());
  CHECK(v.feed(std::string("\x80\x80")));
  CHECK(v.complete());
  CHECK(v.feed(uint8_t{0xed}));
  CHECK_FALSE(v.feed(uint8_t{0xa0}));
  CHECK_FALSE(v.valid());
  CHECK_FALSE(v.feed(uint8_t{'a'}));
}
