// ws: listeners against clients written by others: Debian's
// python3-websockets, and a real Chromium showing the chat page
// (test/websocket/*.py drive them).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "../support/program.hpp"
#include "../support/server.hpp"

using namespace std::chrono_literals;

namespace {

// Debian's interpreter, where python3-websockets is installed, whatever
// another python3 earlier in PATH lacks.
const char* python = "/usr/bin/python3";

std::string logs_dir() {
  const char* logs = std::getenv("TEST_LOGS");
  return logs ? logs : "build/test-logs";
}

}  // namespace

TEST_CASE("ws interop: python3-websockets is served, pinged, closed and refused as RFC 6455 says", "[websocket]") {
  test::Server s({"--listen", "ws:127.0.0.1:0", "--workers", "3"});
  auto r = test::run_program({python, "test/websocket/interop.py", std::to_string(s.port())}, 60s);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("pass served") && Catch::Contains("pass exit_closes_1000") &&
                        Catch::Contains("pass too_long_closes_1009"));
}

// no-valgrind: a browser's timeouts, 20 times slower, test nothing of the server's memory
// that the raw-socket cases do not.
TEST_CASE("ws browser: two Chromium pages chat through the built-in page", "[websocket][no-valgrind]") {
  test::Server s({"--listen", "ws:127.0.0.1:0", "--service", "chat", "--workers", "4"});
  std::string shot = logs_dir() + "/websocket-chat-page.png";
  ::mkdir(logs_dir().c_str(), 0755);
  ::unlink(shot.c_str());
  auto r = test::run_program({python, "test/websocket/chat_browser.py", std::to_string(s.port()), shot}, 90s);
  if (r.status == 77) {
    std::puts("SKIPPED: chromium is not installed and could not be (make test installs it from TEST_PACKAGES)");
    return;
  }
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("pass a message typed in one page shows in the other") &&
                        Catch::Contains("pass the page says when the connection drops"));
  std::string png = test::read_file(shot);
  CHECK(png.substr(0, 8) == "\x89PNG\r\n\x1a\n");
}
