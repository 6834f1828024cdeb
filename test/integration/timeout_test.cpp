// idle_timeout: a silent client is told and closed; a talking one is not.
#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("a silent client gets ERR idle timeout and is closed") {
  Server server({"--workers", "1", "--idle_timeout", "1"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("hello\n"));
  REQUIRE(c.reply() == "hello");
  CHECK(c.reply(4s) == "ERR idle timeout");
  CHECK(c.closed_within(2s));
  Client next = Client::connect(server.port());  // the worker is free again
  REQUIRE(next.send("next\n"));
  CHECK(next.reply() == "next");
}

TEST_CASE("a client that keeps talking outlives idle_timeout") {
  Server server({"--workers", "1", "--idle_timeout", "1"});
  Client c = Client::connect(server.port());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c.send("tick\n"));
    REQUIRE(c.reply() == "tick");
    REQUIRE(c.quiet_for(500ms));
  }
  REQUIRE(c.send("still here\n"));
  CHECK(c.reply() == "stillhere");
}
