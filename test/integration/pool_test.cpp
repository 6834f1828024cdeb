// The pre-forked pool: many clients, a worker killed under load.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("20 clients at once with 5 workers are all served") {
  Server server({"--workers", "5"});
  std::vector<Client> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(Client::connect(server.port()));
  // Everyone has sent before anyone is answered: 15 wait in the backlog.
  for (int i = 0; i < 20; ++i) REQUIRE(clients[i].send("client " + std::to_string(i) + "\n"));
  for (int i = 0; i < 20; ++i) {
    CHECK(clients[i].reply(10s) == "client" + std::to_string(i));
    clients[i].close();  // frees the worker for the clients behind
  }
}

TEST_CASE("a worker killed with SIGKILL is replaced and the others are undisturbed") {
  Server server({"--workers", "3"});
  REQUIRE(server.wait_workers(3));
  std::vector<Client> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(Client::connect(server.port()));
    REQUIRE(clients.back().send("hello " + std::to_string(i) + "\n"));
    REQUIRE(clients.back().reply() == "hello" + std::to_string(i));
  }
  auto before = server.workers();
  int victim = before.front();
  REQUIRE(kill(victim, SIGKILL) == 0);
  REQUIRE(server.wait_log("worker " + std::to_string(victim) + " killed by signal 9"));
  REQUIRE(server.wait_workers(3));
  auto after = server.workers();
  CHECK(std::find(after.begin(), after.end(), victim) == after.end());
  // Exactly one client lost its worker; the other two carry on.
  int alive = 0, closed = 0;
  for (int i = 0; i < 3; ++i) {
    if (!clients[i].send("again " + std::to_string(i) + "\n")) {
      ++closed;
      continue;
    }
    auto reply = clients[i].reply(2s);
    if (reply) {
      CHECK(*reply == "again" + std::to_string(i));
      ++alive;
    } else {
      ++closed;
    }
  }
  CHECK(alive == 2);
  CHECK(closed == 1);
  Client fresh = Client::connect(server.port());
  REQUIRE(fresh.send("new\n"));
  CHECK(fresh.reply() == "new");
  CHECK_FALSE(test::is_zombie(victim));
}

TEST_CASE("SIGPIPE from a vanished client kills nobody") {
  Server server({"--workers", "1"});
  auto workers = server.workers();
  REQUIRE(workers.size() == 1);
  for (int i = 0; i < 20; ++i) {
    Client c = Client::connect(server.port());
    REQUIRE(c.send(std::string(200000, 'x') + "\n"));
    c.reset();
  }
  Client c = Client::connect(server.port());
  REQUIRE(c.send("still\n"));
  CHECK(c.reply() == "still");
  // Clients queued meanwhile may have started more workers (a burst): none
  // of the first ones may have been replaced.
  auto now = server.workers();
  for (int w : workers) CHECK(std::find(now.begin(), now.end(), w) != now.end());
  CHECK(server.log_count("killed by signal") == 0);
}
