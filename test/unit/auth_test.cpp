// AUTH in the session: nothing is processed before it, and replies do not
// depend on how the bytes arrive.
#include <catch2/catch.hpp>

#include "../support/replies.hpp"
#include "wsserver/session.hpp"

namespace {

const std::string nul(1, '\0');
const std::string secret = "s3cret word";

// Feeds `input` in chunks cut at `cuts`, doing what the worker does after a
// failed AUTH (minus the delay). Returns the replies; *left is set by exit.
std::string drive(const std::string& input, const std::vector<size_t>& cuts, bool* left = nullptr,
                  int* failures = nullptr) {
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {64, &secret});
  test::Output out;
  std::vector<std::string_view> chunks;
  size_t at = 0;
  for (size_t cut : cuts) chunks.push_back(std::string_view(input).substr(at, cut - at)), at = cut;
  chunks.push_back(std::string_view(input).substr(at));
  for (auto chunk : chunks) {
    while (!chunk.empty()) {
      auto r = session.receive(chunk, out);
      chunk.remove_prefix(r.consumed);
      if (r.step == ws::Session::Step::auth_failed) session.notice("ERR authentication failed", out);
      if (r.step == ws::Session::Step::leave) {
        if (left) *left = true;
        return out.text();
      }
    }
  }
  auto last = session.finish(out);
  if (last == ws::Session::Step::auth_failed) session.notice("ERR authentication failed", out);
  if (left) *left = last == ws::Session::Step::leave;
  if (failures) *failures = session.auth_failures();
  return out.text();
}

}  // namespace

TEST_CASE("before AUTH every message is refused and not processed") {
  CHECK(drive("a b\n", {}) == "ERR authentication required" + nul);
  CHECK(drive(std::string(100, 'x') + "\n", {}) == "ERR message too long" + nul);
}

TEST_CASE("a right secret gets OK and then the service") {
  CHECK(drive("AUTH s3cret word\na b\n", {}) == "OK" + nul + "ab" + nul);
  CHECK(drive("  auth \ts3cret word \r\n", {}) == "OK" + nul);
}

TEST_CASE("a wrong secret is a failure the worker answers after its delay") {
  int failures = 0;
  CHECK(drive("AUTH nope\nAUTH s3cret\nAUTH\nx\n", {}, nullptr, &failures) ==
        "ERR authentication failed" + nul + "ERR authentication failed" + nul + "ERR authentication failed" + nul +
            "ERR authentication required" + nul);
  CHECK(failures == 3);
}

TEST_CASE("exit works before AUTH") {
  bool left = false;
  CHECK(drive("exit\nAUTH s3cret word\n", {}, &left) == "");
  CHECK(left);
}

TEST_CASE("every split of an AUTH conversation gives the same replies") {
  const std::string input = "hi\nAUTH bad\nAUTH s3cret word\nx y\nAUTH s3cret word\nz";
  const std::string expected = "ERR authentication required" + nul + "ERR authentication failed" + nul + "OK" + nul +
                               "xy" + nul + "OK" + nul + "z" + nul;
  REQUIRE(drive(input, {}) == expected);
  for (size_t a = 1; a < input.size(); ++a)
    for (size_t b = a; b < input.size(); b += 3) REQUIRE(drive(input, {a, b}) == expected);
}

TEST_CASE("without auth_file AUTH is an ordinary message") {
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {64});
  test::Output out;
  session.receive("AUTH x\n", out);
  CHECK(out.text() == "AUTHx" + nul);
}

TEST_CASE("classify tells commands from messages") {
  std::string_view s;
  CHECK(ws::classify(" Exit ", true, &s) == ws::Command::exit);
  CHECK(ws::classify("quit", false, &s) == ws::Command::exit);
  CHECK(ws::classify("auth", true, &s) == ws::Command::auth);
  CHECK(s.empty());
  CHECK(ws::classify("Auth\t a b ", true, &s) == ws::Command::auth);
  CHECK(s == "a b");
  CHECK(ws::classify("authx", true, &s) == ws::Command::none);
  CHECK(ws::classify("auth x", false, &s) == ws::Command::none);
  CHECK(ws::classify("exit now", true, &s) == ws::Command::none);
}

TEST_CASE("secret comparison") {
  CHECK(ws::secret_matches("abc", "abc"));
  CHECK_FALSE(ws::secret_matches("abd", "abc"));
  CHECK_FALSE(ws::secret_matches("ab", "abc"));
  CHECK_FALSE(ws::secret_matches("abcd", "abc"));
  CHECK_FALSE(ws::secret_matches("", "abc"));
  CHECK(ws::secret_matches("", ""));
  CHECK_FALSE(ws::secret_matches(std::string("abc\0", 4), "abc"));
}
