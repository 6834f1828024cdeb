// Workers and masters that die, crash loops, set-up failures, exhausted
// descriptors and connections reset by the thousand.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <regex>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

bool port_is_free(uint16_t port) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return bind(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) == 0;
}

}  // namespace

TEST_CASE("every worker killed at once is replaced and none is left a zombie") {
  Server server({"--workers", "5"});
  REQUIRE(server.wait_workers(5));
  auto old = server.workers();
  for (int w : old) kill(w, SIGKILL);
  REQUIRE(test::wait_until([&] {
    auto now = server.workers();
    return now.size() == 5 && std::none_of(now.begin(), now.end(), [&](int w) {
             return std::find(old.begin(), old.end(), w) != old.end();
           });
  }, 10s));
  for (int w : old) CHECK_FALSE(test::is_zombie(w));
  CHECK(server.log_count("killed by signal 9") == 5);
  Client c = Client::connect(server.port());
  REQUIRE(c.send("back\n"));
  CHECK(c.reply() == "back");
}

// [no-valgrind]: CPU time.
TEST_CASE("a crash loop backs off and costs the master little CPU", "[no-valgrind]") {
  Server server({"--workers", "2"});
  REQUIRE(server.wait_workers(2));
  double before = test::cpu_seconds(server.pid());
  auto end = test::Clock::now() + 3s;
  // Kill every worker the moment it appears, for three seconds and until the
  // master has backed off three times: on a loaded machine this loop can miss
  // a worker for a second, and the master rightly counts it as not young.
  test::wait_until([&] {
    for (int w : server.workers()) kill(w, SIGKILL);
    return test::Clock::now() >= end && server.log_count("workers keep dying young: next start in") >= 3;
  }, 20s);
  double used = test::cpu_seconds(server.pid()) - before;
  INFO("master CPU " << used << " s");
  CHECK(used < 0.5);
  CHECK(server.log_count("workers keep dying young: next start in") >= 3);
  CHECK(server.log_count("started") < 40);  // backed off, no fork storm
  CHECK(test::alive(server.pid()));
}

TEST_CASE("when the master is killed no worker outlives its client") {
  Server server({"--workers", "3"});
  REQUIRE(server.wait_workers(3));
  auto workers = server.workers();
  uint16_t port = server.port();
  Client c = Client::connect(port);
  REQUIRE(c.send("busy\n"));
  REQUIRE(c.reply() == "busy");
  kill(server.pid(), SIGKILL);
  REQUIRE(server.wait_exit() == 128 + SIGKILL);
  // The idle ones go within a second; the busy one finishes its client.
  REQUIRE(test::wait_until([&] {
    return std::count_if(workers.begin(), workers.end(), [](int w) { return test::alive(w); }) == 1;
  }, 2s));
  REQUIRE(c.send("still\n"));
  CHECK(c.reply() == "still");
  c.close();
  CHECK(test::wait_until([&] {
    test::reap_children();
    return std::none_of(workers.begin(), workers.end(), [](int w) { return test::alive(w); });
  }, 2s));
  CHECK(test::wait_until([&] { return port_is_free(port); }, 2s));
}

// [no-valgrind]: LD_PRELOAD would go into valgrind.
TEST_CASE("a worker that cannot set itself up stops the master with an error", "[no-valgrind]") {
  test::TempDir dir;
  auto r = test::run_wsserver({"-c", "/dev/null", "--listen", "127.0.0.1:0", "--workers", "2", "--pid_file",
                               dir.file("w.pid")},
                              10s, {"LD_PRELOAD=" + test::build_dir() + "/fail-epoll.so"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("worker set-up failed: epoll_create1() failed") &&
                        Catch::Contains("a worker could not set itself up: stopping"));
  CHECK(r.err.find("worker") != std::string::npos);
  // It stopped instead of respawning forever.
  size_t starts = 0;
  for (size_t at = 0; (at = r.err.find(" started\n", at)) != std::string::npos; ++at) ++starts;
  CHECK(starts <= 3);
}

// [no-valgrind]: CPU time; valgrind reserves descriptors.
TEST_CASE("out of descriptors a worker pauses accepting without spinning", "[no-valgrind]") {
  // Root's worker: changing another user's limits takes CAP_SYS_RESOURCE,
  // which a container's root may lack.
  Server server({"--workers", "1", "--user", "root"});
  REQUIRE(server.wait_workers(1));
  int worker = server.workers().at(0);
  // Leave the worker no descriptor for a new client (the soft limit only,
  // so that it can be raised again without privileges).
  rlimit normal{};
  REQUIRE(prlimit(worker, RLIMIT_NOFILE, nullptr, &normal) == 0);
  rlimit tight{3, normal.rlim_max};
  REQUIRE(prlimit(worker, RLIMIT_NOFILE, &tight, nullptr) == 0);
  Client waiting = Client::connect(server.port());
  REQUIRE(waiting.send("patience\n"));
  REQUIRE(server.wait_log("cannot accept: Too many open files; pausing accepts"));
  double before = test::cpu_seconds(worker);
  CHECK(waiting.quiet_for(1500ms));
  CHECK(test::cpu_seconds(worker) - before < 0.2);
  CHECK(server.log_count("cannot accept") == 1);  // at most once every few seconds
  REQUIRE(prlimit(worker, RLIMIT_NOFILE, &normal, nullptr) == 0);
  CHECK(waiting.reply() == "patience");
}

TEST_CASE("a thousand connections reset with SO_LINGER 0 do not disturb the service") {
  Server server({"--workers", "4"});
  REQUIRE(server.wait_workers(4));
  for (int i = 0; i < 1000; ++i) {
    Client c = Client::connect(server.port());
    if (i % 3 == 0) c.send("half a mess");
    if (i % 3 == 1) c.send(std::string(100000, 'x'));
    c.reset();
  }
  Client c = Client::connect(server.port());
  REQUIRE(c.send("fine\n"));
  CHECK(c.reply() == "fine");
  // Clients queued meanwhile may start more workers (a burst), and the pool
  // then retires its oldest idle ones: a worker may leave, but only by
  // exiting 0, never by a crash.
  std::string log = server.log();
  CHECK(server.log_count("killed by signal") == 0);
  CHECK_FALSE(std::regex_search(log, std::regex("exited with status [1-9]")));
}
