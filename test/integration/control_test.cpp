// -s status / stop / quit / reload / reopen through the pid file and the
// control socket.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::run_wsserver;
using test::Server;

TEST_CASE("status shows pid, uptime, version, listeners, workers and totals") {
  Server server({"--workers", "2"});
  REQUIRE(server.wait_workers(2));
  Client busy = Client::connect(server.port());
  REQUIRE(busy.send("a b\n"));
  REQUIRE(busy.reply() == "ab");
  // The worker counts a message just after sending its reply, so the reply
  // can arrive before the count: ask until the totals hold it.
  const std::string totals = "totals: connections 1, messages 1, bytes in 4, bytes out 3, rejected 0, worker deaths 0";
  test::RunResult r;
  CHECK(test::wait_until([&] {
    r = run_wsserver(server.same_files({"-s", "status"}));
    return r.out.find(totals) != std::string::npos;
  }));
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("wsserver 0.") && Catch::Contains("pid " + std::to_string(server.pid())) &&
                        Catch::Contains(", up ") && Catch::Contains("listening: " + server.addresses()[0]));
  CHECK_THAT(r.out, Catch::Contains("workers: 2 (1 busy, 1 not busy)"));
  CHECK_THAT(r.out, Catch::Contains(" busy ") && Catch::Contains(" idle ") && Catch::Contains("127.0.0.1:"));
  for (int w : server.workers()) CHECK_THAT(r.out, Catch::Contains(std::to_string(w)));
  CHECK_THAT(r.out, Catch::Contains(totals));
}

TEST_CASE("status json is one object with the same facts") {
  Server server({"--workers", "1"});
  REQUIRE(server.wait_workers(1));
  auto r = run_wsserver(server.same_files({"-s", "status", "--json"}));
  CHECK(r.status == 0);
  const std::string& j = r.out;
  CHECK(j.front() == '{');
  CHECK(j.substr(j.size() - 2) == "}\n");
  CHECK(std::count(j.begin(), j.end(), '{') == std::count(j.begin(), j.end(), '}'));
  CHECK_THAT(j, Catch::Contains("\"pid\":" + std::to_string(server.pid())) && Catch::Contains("\"uptime_seconds\":") &&
                    Catch::Contains("\"version\":\"0.") && Catch::Contains("\"listeners\":[\"" + server.addresses()[0]));
  CHECK_THAT(j, Catch::Contains("\"workers\":[{\"pid\":" + std::to_string(server.workers().at(0))) &&
                    Catch::Contains("\"state\":\"idle\"") && Catch::Contains("\"worker_deaths\":0"));
}

TEST_CASE("status exits 3 when nothing runs") {
  test::TempDir dir;
  auto r = run_wsserver({"-c", "/dev/null", "--pid_file", dir.file("none.pid"), "-s", "status"});
  CHECK(r.status == 3);
  CHECK_THAT(r.out, Catch::Contains("not running"));
  auto stale = run_wsserver({"-c", "/dev/null", "--pid_file", dir.write("stale.pid", "999999\n"), "-s", "status"});
  CHECK(stale.status == 3);
}

TEST_CASE("the control socket is mode 0600") {
  Server server({"--workers", "1"});
  struct stat st {};
  REQUIRE(stat(server.dir().file("wsserver.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("signal actions stop quit reload and reopen reach the master") {
  Server server({"--workers", "1"});
  auto reload = run_wsserver(server.same_files({"-s", "reload"}));
  CHECK(reload.status == 0);
  CHECK(server.wait_log("reloaded: generation 2"));
  auto reopen = run_wsserver(server.same_files({"-s", "reopen"}));
  CHECK(reopen.status == 0);
  CHECK(server.wait_log("reopened log files"));
  Client c = Client::connect(server.port());
  REQUIRE(c.send("x\n"));
  REQUIRE(c.reply() == "x");
  auto stop = run_wsserver(server.same_files({"-s", "stop"}));
  CHECK(stop.status == 0);
  CHECK(c.reply() == "ERR server shutting down");
  CHECK(server.wait_exit(1s) == 0);
  auto again = run_wsserver(server.same_files({"-s", "quit"}));
  CHECK(again.status == 3);
}

// [no-valgrind]: 5 s for a log line.
TEST_CASE("quit waits for busy clients before it returns", "[no-valgrind]") {
  Server server({"--workers", "1"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("x\n"));
  REQUIRE(c.reply() == "x");
  test::RunResult quit;
  std::thread stopper([&] { quit = run_wsserver(server.same_files({"-s", "quit"})); });
  REQUIRE(server.wait_log("graceful stop"));
  REQUIRE(c.send("still served\n"));
  CHECK(c.reply() == "stillserved");
  c.close();
  stopper.join();
  CHECK(quit.status == 0);
  CHECK_THAT(quit.out, Catch::Contains("stopped"));
}
