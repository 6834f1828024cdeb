// overflow: with every max_workers worker busy, new clients wait (queue) or
// are told and closed (reject); nobody is rejected while a worker is idle.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("overflow queue: clients wait for a busy worker") {
  Server server({"--workers", "1", "--max_workers", "1"});
  Client busy = Client::connect(server.port());
  REQUIRE(busy.send("a\n"));
  REQUIRE(busy.reply() == "a");
  Client waiting = Client::connect(server.port());
  REQUIRE(waiting.send("b\n"));
  CHECK(waiting.quiet_for(300ms));  // not served, not rejected
  busy.close();
  CHECK(waiting.reply() == "b");
}

TEST_CASE("overflow reject: clients over max_workers get ERR too many clients") {
  Server server({"--workers", "2", "--max_workers", "2", "--overflow", "reject"});
  std::vector<Client> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(Client::connect(server.port()));
    REQUIRE(busy.back().send("busy\n"));
    REQUIRE(busy.back().reply() == "busy");
  }
  for (int i = 0; i < 3; ++i) {
    Client extra = Client::connect(server.port());
    CHECK(extra.reply() == "ERR too many clients");
    CHECK(extra.closed_within(2s));
  }
  CHECK(server.wait_log("too many clients: all 2 workers are busy"));
  CHECK(server.log_count("too many clients") == 1);  // at most once per 10 s
  busy.pop_back();  // one worker is free again: the next client is served
  Client served = Client::connect(server.port());
  REQUIRE(served.send("welcome\n"));
  CHECK(served.reply() == "welcome");
}

TEST_CASE("overflow reject never rejects a client while a worker is free") {
  Server server({"--workers", "3", "--max_workers", "3", "--overflow", "reject"});
  // Three clients at most, each reconnecting as soon as it is answered: the
  // pool is often all busy for an instant, with a worker about to be free.
  std::atomic<int> served{0}, rejected{0}, failed{0};
  auto churn = [&] {
    for (int i = 0; i < 150; ++i) {
      auto c = Client::try_connect(server.port());
      auto r = c && c->send("m\n") ? c->reply() : std::nullopt;
      if (!r) ++failed;
      else if (*r == "m") ++served;
      else ++rejected;
    }
  };
  std::thread a(churn), b(churn), c(churn);
  a.join();
  b.join();
  c.join();
  CHECK(rejected == 0);
  CHECK(failed == 0);
  CHECK(served == 450);
}
