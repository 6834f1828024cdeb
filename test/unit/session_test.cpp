// Framing and commands: replies must not depend on how the bytes arrive.
#include <catch2/catch.hpp>

#include <random>

#include "../support/replies.hpp"
#include "wsserver/session.hpp"

namespace {

const std::string nul(1, '\0');

struct Run {
  std::string out;
  bool left = false;  // the client asked to leave
};

// Feeds `input` in the given chunks, then a half-close.
Run feed(const std::string& input, const std::vector<size_t>& cuts, ws::ServiceKind kind = ws::ServiceKind::strip,
         size_t max_message = 65536) {
  auto service = ws::make_service(kind, {});
  ws::Session session(*service, {max_message});
  test::Output out;
  Run run;
  size_t at = 0;
  auto left = [&] { return run.out = out.text(), run.left = true, run; };
  for (size_t cut : cuts) {
    if (session.receive(std::string_view(input).substr(at, cut - at), out).step == ws::Session::Step::leave)
      return left();
    at = cut;
  }
  if (session.receive(std::string_view(input).substr(at), out).step == ws::Session::Step::leave) return left();
  run.left = session.finish(out) == ws::Session::Step::leave;
  run.out = out.text();
  return run;
}

// What the protocol says the replies are, computed on the whole input.
Run reference(const std::string& input) {
  Run run;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  size_t at = 0;
  while (at < input.size()) {
    size_t end = input.find_first_of(std::string("\n\0", 2), at);
    std::string message = input.substr(at, end == std::string::npos ? std::string::npos : end - at);
    std::string stripped, lowered;
    for (char c : message)
      if (!is_space(c)) stripped += c;
    size_t b = message.find_first_not_of(" \t\n\v\f\r"), e = message.find_last_not_of(" \t\n\v\f\r");
    std::string trimmed = b == std::string::npos ? "" : message.substr(b, e - b + 1);
    for (char c : trimmed) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lowered == "exit" || lowered == "quit") return run.left = true, run;
    run.out += stripped + nul;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return run;
}

// Every way to cut a short input into consecutive chunks.
void check_every_split(const std::string& input) {
  Run expected = reference(input);
  size_t gaps = input.empty() ? 0 : input.size() - 1;
  REQUIRE(gaps < 16);
  for (unsigned mask = 0; mask < (1u << gaps); ++mask) {
    std::vector<size_t> cuts;
    for (size_t i = 0; i < gaps; ++i)
      if (mask & (1u << i)) cuts.push_back(i + 1);
    Run got = feed(input, cuts);
    INFO("input of " << input.size() << " bytes, split mask " << mask);
    REQUIRE(got.out == expected.out);
    REQUIRE(got.left == expected.left);
  }
}

}  // namespace

TEST_CASE("every split of short inputs gives the replies of the whole input") {
  const std::vector<std::string> samples = {
      "a b\tc\n", std::string("hi\0there\n", 9), "exit\n", " QuIt \r\nx\n", "e x i t\n", "\n\n",
      std::string("exi\0t\n", 6), "EXIT", "abc", "x\r\n\v\fy\n", "exits\n", "ex\n", "  \n",
      std::string("\xff\x80 \x01\n", 5), "quit now\n", "a\nexit\nb\n"};
  for (const auto& s : samples) check_every_split(s);
}

TEST_CASE("random splits of long inputs give the replies of the whole input") {
  std::mt19937 rng(12345);
  const std::string alphabet = std::string("ab \t\r\v\f\n\0xE\xff", 12);
  for (int round = 0; round < 200; ++round) {
    std::string input;
    size_t length = std::uniform_int_distribution<size_t>(1, 4000)(rng);
    for (size_t i = 0; i < length; ++i) input += alphabet[rng() % alphabet.size()];
    std::vector<size_t> cuts;
    for (size_t at = 0; at < input.size();) {
      at += std::uniform_int_distribution<size_t>(1, 300)(rng);
      if (at < input.size()) cuts.push_back(at);
    }
    REQUIRE(feed(input, cuts).out == reference(input).out);
    REQUIRE(feed(input, {}).out == reference(input).out);
  }
}

TEST_CASE("a thousand messages in one chunk are answered in order") {
  std::string input, expected;
  for (int i = 0; i < 1000; ++i) {
    input += "m " + std::to_string(i) + "\n";
    expected += "m" + std::to_string(i) + nul;
  }
  CHECK(feed(input, {}).out == expected);
}

TEST_CASE("NUL ends a message like LF") {
  CHECK(feed(std::string("a b\0c d\n", 8), {}).out == "ab" + nul + "cd" + nul);
}

TEST_CASE("an unterminated final message is answered at half-close") {
  CHECK(feed("x y\nlast one", {}).out == "xy" + nul + "lastone" + nul);
}

TEST_CASE("a long message streams out before it ends") {
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {65536});
  std::string chunk(65536, 'a');
  test::Output out;
  for (int i = 0; i < 64; ++i) {
    out.replies.clear();
    session.receive(chunk, out);
    REQUIRE(out.text().size() == chunk.size());  // nothing held back
  }
  CHECK(session.in_message());
}

TEST_CASE("a command is recognised only whole, trimmed and case-insensitive") {
  CHECK(feed("  Exit\t\n", {}).left);
  CHECK(feed("QUIT", {}).left);  // at half-close too
  CHECK_FALSE(feed("exit!\n", {}).left);
  CHECK(feed("exit!\n", {}).out == "exit!" + nul);
  CHECK(feed("ex it\n", {}).out == "exit" + nul);
}

TEST_CASE("bytes after exit are not processed") {
  Run run = feed("a\nexit\nb\n", {});
  CHECK(run.left);
  CHECK(run.out == "a" + nul);
}

TEST_CASE("white space around a command is held at most max_message bytes") {
  std::string spaces(100, ' ');
  CHECK(feed(spaces + "exit\n", {}, ws::ServiceKind::strip, 1000).left);
  Run run = feed(spaces + "exit\n", {}, ws::ServiceKind::strip, 50);
  CHECK_FALSE(run.left);
  CHECK(run.out == "exit" + nul);
}

TEST_CASE("echo replies keep the message and its inner white space") {
  CHECK(feed(" a  b \r\n", {}, ws::ServiceKind::echo).out == " a  b " + nul);
  CHECK(feed(" exit \n", {}, ws::ServiceKind::echo).left);
}
