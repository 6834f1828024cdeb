// Clients that misbehave: one that never reads its replies, and a flood of
// connections far larger than the pool.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("a client that never reads its replies is closed after idle_timeout and frees its worker") {
  Server server({"--workers", "1", "--idle_timeout", "1", "--access_log", "{dir}/access.log"});
  Client hog = Client::connect(server.port());
  // Keep sending without reading: the replies pile up until the server's
  // sends stall, and a stalled send counts as client silence.
  std::string chunk(64 * 1024, 'x');
  chunk.back() = '\n';
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    pollfd p{hog.fd(), POLLOUT, 0};
    while (!stop && poll(&p, 1, 100) >= 0) {
      if (p.revents & (POLLERR | POLLHUP)) break;
      if ((p.revents & POLLOUT) && send(hog.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN)
        break;
    }
  });
  REQUIRE(test::wait_until([&] {
    return test::read_file(server.dir().file("access.log")).find(" send-timeout\n") != std::string::npos;
  }, 10s));
  stop = true;
  writer.join();
  Client next = Client::connect(server.port());
  REQUIRE(next.send("after the hog\n"));
  CHECK(next.reply() == "afterthehog");
}

TEST_CASE("a flood of 400 connections on 4 workers is served in turn") {
  Server server({"--workers", "4", "--backlog", "1024"});
  std::vector<Client> clients;
  for (int i = 0; i < 400; ++i) {
    clients.push_back(Client::connect(server.port()));
    REQUIRE(clients.back().send("flood " + std::to_string(i) + "\n"));
  }
  // Each answered client leaves, freeing a worker for the ones queued.
  for (int i = 0; i < 400; ++i) {
    INFO("client " << i);
    REQUIRE(clients[i].reply(20s) == "flood" + std::to_string(i));
    clients[i].close();
  }
  CHECK(server.log_count("killed by signal") == 0);
}
