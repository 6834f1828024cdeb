// The dynamic pool: spares kept between min_spare and max_spare, within
// max_workers, and workers replaced after max_requests.
#include <signal.h>

#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("the pool grows under 6 held clients and shrinks after") {
  Server server({"--workers", "1", "--min_spare", "1", "--max_spare", "3", "--max_workers", "10"});
  REQUIRE(server.wait_workers(1));
  std::vector<Client> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(Client::connect(server.port()));
    REQUIRE(clients.back().send("held " + std::to_string(i) + "\n"));
  }
  // The waiting clients start their workers at once (a burst), within max_workers.
  for (int i = 0; i < 6; ++i) CHECK(clients[i].reply(10s) == "held" + std::to_string(i));
  CHECK(test::wait_until([&] { return server.workers().size() >= 7; }, 5s));
  CHECK(server.workers().size() <= 10);
  clients.clear();
  // Now more than max_spare are idle: they retire in batches, down to 3 idle.
  CHECK(server.wait_workers(3, 15s));
  CHECK(server.log_count("exited with status 0") >= 4);
}

TEST_CASE("the pool never grows past max_workers") {
  Server server({"--workers", "2", "--min_spare", "2", "--max_spare", "4", "--max_workers", "3"});
  std::vector<Client> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(Client::connect(server.port()));
  for (auto& c : clients) REQUIRE(c.send("x\n"));
  REQUIRE(clients[0].reply() == "x");
  CHECK(server.wait_log("too many clients: all 3 workers are busy", 8s));
  CHECK(server.workers().size() == 3);
}

TEST_CASE("a worker is replaced after max_requests clients") {
  // max_workers 1: a client that comes while the worker still finishes the
  // last one would otherwise start a second worker (the burst rule), as it
  // does under make valgrind.
  Server server({"--workers", "1", "--max_workers", "1", "--max_requests", "3"});
  REQUIRE(server.wait_workers(1));
  int first = server.workers().at(0);
  for (int i = 0; i < 3; ++i) {
    Client c = Client::connect(server.port());
    REQUIRE(c.send("x\n"));
    REQUIRE(c.reply() == "x");
  }
  REQUIRE(server.wait_log("worker " + std::to_string(first) + " exited with status 0"));
  REQUIRE(server.wait_workers(1));
  CHECK(server.workers().at(0) != first);
  Client c = Client::connect(server.port());
  REQUIRE(c.send("y\n"));
  CHECK(c.reply() == "y");
}

TEST_CASE("TTIN stops at max_spare idle workers") {
  Server server({"--workers", "2", "--max_spare", "3"});
  REQUIRE(server.wait_workers(2));
  server.signal(SIGTTIN);
  REQUIRE(server.wait_workers(3));
  server.signal(SIGTTIN);
  CHECK(server.wait_log("SIGTTIN ignored"));
  CHECK(server.workers().size() == 3);
}
