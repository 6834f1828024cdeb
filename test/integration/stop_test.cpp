// Stopping: graceful (TERM, QUIT) serves every client already connected or
// queued; fast (INT) tells clients and closes now.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

// Starts a connect that the server should never complete; returns the socket.
ws::Fd start_connect(uint16_t port) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in);
  return fd;
}

int connect_result(const ws::Fd& fd, int timeout_ms) {
  pollfd p{fd.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) return ETIMEDOUT;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

}  // namespace

TEST_CASE("TERM lets a busy client finish, then the master exits 0") {
  Server server({"--workers", "2"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("one\n"));
  REQUIRE(c.reply() == "one");
  server.signal(SIGTERM);
  REQUIRE(server.wait_log("graceful stop"));
  REQUIRE(c.send("two words\n"));
  CHECK(c.reply() == "twowords");
  CHECK_FALSE(server.wait_exit(200ms));  // still serving its client
  c.close();
  CHECK(server.wait_exit(5s) == 0);
}

TEST_CASE("TERM serves every client queued in the backlog and takes no new one") {
  Server server({"--workers", "2"});
  std::vector<Client> busy, queued;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(Client::connect(server.port()));
    REQUIRE(busy.back().send("busy\n"));
    REQUIRE(busy.back().reply() == "busy");
  }
  for (int i = 0; i < 6; ++i) {
    queued.push_back(Client::connect(server.port()));
    REQUIRE(queued.back().send("queued " + std::to_string(i) + "\n"));
  }
  server.signal(SIGTERM);
  REQUIRE(server.wait_log("graceful stop"));
  ws::Fd late = start_connect(server.port());
  for (auto& b : busy) b.close();
  for (int i = 0; i < 6; ++i) {
    CHECK(queued[i].reply() == "queued" + std::to_string(i));
    queued[i].close();
  }
  CHECK(server.wait_exit(5s) == 0);
  // The late client's SYN was dropped; its retry meets a closed port.
  CHECK(connect_result(late, 5000) == ECONNREFUSED);
}

TEST_CASE("QUIT is a graceful stop too") {
  Server server({"--workers", "1"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("x\n"));
  REQUIRE(c.reply() == "x");
  server.signal(SIGQUIT);
  REQUIRE(server.wait_log("graceful stop"));
  REQUIRE(c.send("y\n"));
  CHECK(c.reply() == "y");
  c.close();
  CHECK(server.wait_exit(5s) == 0);
}

TEST_CASE("graceful_timeout kills a client that does not leave") {
  Server server({"--workers", "1", "--graceful_timeout", "1"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("x\n"));
  REQUIRE(c.reply() == "x");
  server.signal(SIGTERM);
  CHECK(server.wait_exit(5s) == 0);
  CHECK(server.log_count("stop timeout: killing 1 remaining workers") == 1);
  CHECK(c.closed_within(2s));
}

TEST_CASE("INT tells every client the server is shutting down and exits 0") {
  Server server({"--workers", "3"});
  auto workers = server.workers();
  std::vector<Client> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(Client::connect(server.port()));
    REQUIRE(clients.back().send("hi\n"));
    REQUIRE(clients.back().reply() == "hi");
  }
  server.signal(SIGINT);
  for (auto& c : clients) {
    CHECK(c.reply() == "ERR server shutting down");
    CHECK(c.closed_within(2s));
  }
  CHECK(server.wait_exit(5s) == 0);
  for (int w : workers) CHECK_FALSE(test::alive(w));
}

TEST_CASE("TERM reaches idle workers waiting in accept") {
  Server server({"--workers", "4"});
  auto workers = server.workers();
  REQUIRE(workers.size() == 4);
  server.signal(SIGTERM);
  CHECK(server.wait_exit(3s) == 0);
  for (int w : workers) CHECK(test::wait_until([&] { return !test::alive(w); }, 2s));
  CHECK(server.log_count("exited with status 0") == 4);
}
