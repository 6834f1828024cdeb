// Log files: the line format, levels, the access log, reopen after a
// rotation, and a full disk.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::read_file;
using test::Server;

namespace {

long lines(const std::string& path) {
  std::string text = read_file(path);
  return std::count(text.begin(), text.end(), '\n');
}

void talk(const Server& server, const std::string& message) {
  Client c = Client::connect(server.port());
  REQUIRE(c.send(message + "\n"));
  REQUIRE(c.reply());
}

}  // namespace

TEST_CASE("log lines carry an ISO-8601 UTC time, a level and the pid") {
  Server server({"--workers", "1"});
  std::string log = server.log();
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info (\d+) wsserver 0\.\d+\.\d+ started: .*)");
  std::smatch m;
  std::string first = log.substr(0, log.find('\n'));
  REQUIRE(std::regex_match(first, m, line));
  CHECK(std::stoi(m[1]) == server.pid());
}

TEST_CASE("the access log has one line per closed connection") {
  Server server({"--workers", "1", "--access_log", "{dir}/access.log"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("a b\nc\n"));
  REQUIRE(c.reply() == "ab");
  REQUIRE(c.reply() == "c");
  REQUIRE(c.send("exit\n"));
  REQUIRE(c.closed_within(2s));
  std::string path = server.dir().file("access.log");
  REQUIRE(test::wait_until([&] { return read_file(path).find('\n') != std::string::npos; }));
  std::regex line(R"(\S+Z 127\.0\.0\.1:\d+ (\d+) \d+\.\d{3} 2 11 5 exit\n)");
  std::smatch m;
  std::string text = read_file(path);
  REQUIRE(std::regex_match(text, m, line));
  CHECK(std::stoi(m[1]) == server.workers().at(0));
}

TEST_CASE("log_level warn keeps info lines out") {
  Server server({"--workers", "1", "--log_level", "warn", "--log_file", "{dir}/w.log"});
  talk(server, "x");
  server.signal(SIGTERM);
  REQUIRE(server.wait_exit() == 0);
  CHECK(read_file(server.dir().file("w.log")).empty());
}

TEST_CASE("after a rename and USR1 the master and workers write to new files") {
  Server server({"--workers", "2", "--log_file", "{dir}/w.log", "--access_log", "{dir}/access.log"});
  std::string log = server.dir().file("w.log"), access = server.dir().file("access.log");
  REQUIRE(test::wait_until([&] { return read_file(log).find("listening on") != std::string::npos; }));
  talk(server, "before");
  REQUIRE(test::wait_until([&] { return !read_file(access).empty(); }));
  // What logrotate does: move the files away, then ask for a reopen.
  std::filesystem::rename(log, log + ".1");
  std::filesystem::rename(access, access + ".1");
  kill(server.pid(), SIGUSR1);
  REQUIRE(test::wait_until([&] { return read_file(log).find("reopened log files") != std::string::npos; }));
  // Both workers are idle in accept, where they take the signal first.
  for (int i = 0; i < 4; ++i) talk(server, "after");
  REQUIRE(test::wait_until([&] { return lines(access) == 4; }));
  CHECK(lines(access + ".1") == 1);
  server.signal(SIGTERM);
  REQUIRE(server.wait_exit() == 0);
  CHECK_THAT(read_file(log), Catch::Contains("wsserver stopped"));
  CHECK_THAT(read_file(log + ".1"), !Catch::Contains("wsserver stopped"));
}

TEST_CASE("a full disk never stops the service") {
  Server server({"--workers", "1", "--log_file", "/dev/full", "--access_log", "/dev/full", "--log_level", "debug"});
  for (int i = 0; i < 20; ++i) talk(server, "still serving");
  kill(server.pid(), SIGUSR1);
  talk(server, "after reopen");
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}
