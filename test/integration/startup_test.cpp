// Start-up failures: clear messages and the SPEC's exit codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "../support/server.hpp"
#include "wsserver/fd.hpp"

using test::run_wsserver;

TEST_CASE("a port already in use exits 71 naming the address") {
  ws::Fd taken(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(taken.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) == 0);
  REQUIRE(listen(taken.get(), 1) == 0);
  socklen_t len = sizeof in;
  getsockname(taken.get(), reinterpret_cast<sockaddr*>(&in), &len);
  std::string address = "127.0.0.1:" + std::to_string(ntohs(in.sin_port));
  auto r = run_wsserver({"-c", "/dev/null", "--listen", address});
  CHECK(r.status == 71);
  CHECK_THAT(r.err, Catch::Contains("cannot bind " + address) && Catch::Contains("Address already in use"));
}

TEST_CASE("an unknown config key exits 78 naming file, line and key") {
  test::TempDir dir;
  std::string conf = dir.write("bad.conf", "workers = 2\ncolour = blue\n");
  auto r = run_wsserver({"-c", conf, "--listen", "127.0.0.1:0"});
  CHECK(r.status == 78);
  CHECK_THAT(r.err, Catch::Contains(conf + ":2: colour: unknown key"));
  auto t = run_wsserver({"-t", "-c", conf});
  CHECK(t.status == 78);
  CHECK_THAT(t.err, Catch::Contains(conf + ":2: colour: unknown key"));
}

TEST_CASE("test-config says configuration ok for a good file") {
  test::TempDir dir;
  auto r = run_wsserver({"-t", "-c", dir.write("good.conf", "workers = 3\nservice = echo\n")});
  CHECK(r.status == 0);
  CHECK(r.out == "configuration ok\n");
}

TEST_CASE("a bad command line exits 64") {
  auto r = run_wsserver({"-c", "/dev/null", "--no-such-option"});
  CHECK(r.status == 64);
  CHECK_THAT(r.err, Catch::StartsWith("wsserver: ") && Catch::Contains("--no-such-option"));
}

TEST_CASE("a log file in a missing directory exits 73") {
  test::TempDir dir;
  std::string log = dir.file("missing/dir/wsserver.log");
  auto r = run_wsserver({"-c", "/dev/null", "--listen", "127.0.0.1:0", "--log_file", log});
  CHECK(r.status == 73);
  CHECK_THAT(r.err, Catch::Contains("cannot open log file " + log));
}
