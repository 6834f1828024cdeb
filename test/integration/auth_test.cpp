// auth_file: nothing is served before AUTH <secret>; every way it can go.
#include <signal.h>

#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

const std::string secret = "hunter2 is-the secret";

std::vector<std::string> auth_args() {
  return {"--workers", "2", "--auth_file", "{dir}/secret", "--log_level", "debug", "--access_log", "{dir}/access.log"};
}

// Writes the secret file before the server reads it.
struct SecretServer {
  test::TempDir scratch;
  std::unique_ptr<Server> server;
  SecretServer() {
    std::string path = scratch.write("secret", secret + "\n", 0600);
    auto args = auth_args();
    args[3] = path;
    args.back() = scratch.file("access.log");
    server = std::make_unique<Server>(args);
  }
};

}  // namespace

TEST_CASE("before AUTH a message gets ERR authentication required and is not served") {
  SecretServer s;
  Client c = Client::connect(s.server->port());
  REQUIRE(c.send("a b\n"));
  CHECK(c.reply() == "ERR authentication required");
  REQUIRE(c.send("AUTH " + secret + "\n"));
  CHECK(c.reply() == "OK");
  REQUIRE(c.send("a b\n"));
  CHECK(c.reply() == "ab");
}

TEST_CASE("a wrong secret is answered after about a second, and the third closes") {
  SecretServer s;
  Client c = Client::connect(s.server->port());
  for (int i = 1; i <= 3; ++i) {
    auto start = test::Clock::now();
    REQUIRE(c.send("AUTH not-it\n"));
    CHECK(c.reply(5s) == "ERR authentication failed");
    CHECK(test::Clock::now() - start >= 900ms);
  }
  CHECK(c.closed_within(3s));
}

TEST_CASE("exit works before AUTH and the secret is never logged") {
  SecretServer s;
  Client good = Client::connect(s.server->port());
  REQUIRE(good.send("AUTH " + secret + "\nexit\n"));
  CHECK(good.reply() == "OK");
  CHECK(good.closed_within(3s));
  Client quitter = Client::connect(s.server->port());
  REQUIRE(quitter.send("quit\n"));
  CHECK(quitter.read_to_eof(3s) == "");
  REQUIRE(test::wait_until([&] { return test::read_file(s.scratch.file("access.log")).find("exit") != std::string::npos; }));
  CHECK(s.server->log().find("hunter2") == std::string::npos);
  CHECK(test::read_file(s.scratch.file("access.log")).find("hunter2") == std::string::npos);
}

TEST_CASE("an auth_file readable by others is refused at start") {
  test::TempDir dir;
  std::string path = dir.write("secret", "x\n", 0644);
  auto r = test::run_wsserver({"-c", "/dev/null", "--listen", "127.0.0.1:0", "--auth_file", path});
  CHECK(r.status == 78);
  CHECK_THAT(r.err, Catch::Contains("readable by group or others"));
  std::string empty = dir.write("empty", "\n", 0600);
  CHECK(test::run_wsserver({"-t", "-c", "/dev/null", "--auth_file", empty}).status == 78);
}

TEST_CASE("a secret written with surrounding spaces still matches") {
  test::TempDir dir;
  std::string path = dir.write("secret", "  spaced out \t\r\n", 0600);
  Server server({"--workers", "1", "--auth_file", path});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("AUTH spaced out\n"));
  CHECK(c.reply() == "OK");
}

// [no-valgrind]: 5 s for a reply after a reload.
TEST_CASE("a reload reads a new secret", "[no-valgrind]") {
  SecretServer s;
  s.scratch.write("secret", "new secret\n", 0600);
  s.server->signal(SIGHUP);
  REQUIRE(s.server->wait_log("reloaded: generation 2"));
  REQUIRE(s.server->wait_workers(2));
  Client c = Client::connect(s.server->port());
  REQUIRE(c.send("AUTH new secret\n"));
  CHECK(c.reply() == "OK");
}

TEST_CASE("chat: nothing is published before AUTH, and a wrong secret waits too") {
  test::TempDir dir;
  std::string path = dir.write("secret", "s3\n", 0600);
  Server server({"--workers", "2", "--service", "chat", "--reply_terminator", "lf", "--auth_file", path});
  Client a = Client::connect(server.port()), b = Client::connect(server.port());
  REQUIRE(b.send("AUTH s3\n"));
  REQUIRE(b.reply(5s, '\n') == "OK");
  REQUIRE(a.send("not yet\n"));
  CHECK(a.reply(5s, '\n') == "ERR authentication required");
  auto start = test::Clock::now();
  REQUIRE(a.send("AUTH wrong\n"));
  CHECK(a.reply(5s, '\n') == "ERR authentication failed");
  CHECK(test::Clock::now() - start >= 900ms);
  REQUIRE(a.send("AUTH s3\n"));
  REQUIRE(a.reply(5s, '\n') == "OK");
  REQUIRE(a.send("now it counts\n"));
  CHECK(b.reply(5s, '\n') == "now it counts");  // the refused message never reached b
}
