// Stopping: graceful (TERM, QUIT) serves every client already connected or
// queued; fast (INT) tells clients and closes now.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/proc_fds.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

// Starts a connect that the server should never complete; returns the socket.
ws::Fd start_connect(uint16_t port, const char* host = "127.0.0.1") {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, host, &in.sin_addr);
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

// True if a connect is refused within a moment. A SYN the drop filter
// swallows (the socket still listens) gives a timeout, not a refusal.
bool refused(uint16_t port, const char* host = "127.0.0.1") {
  return connect_result(start_connect(port, host), 100) == ECONNREFUSED;
}

// True if any process still holds a socket listening there (what ss -ltn shows).
bool listening_on(const std::string& local) {
  for (const auto& [inode, socket] : test::socket_table())
    if (socket.kind == test::SocketInfo::tcp && socket.listening && socket.local == local) return true;
  return false;
}

// A busy worker holds its copy of the listener for as long as its client
// stays; the port must close anyway once the (here empty) backlog is drained.
void check_refuses_while_a_client_is_served(int sig) {
  Server server({"--workers", "3"});
  REQUIRE(server.wait_workers(3));
  Client c = Client::connect(server.port());
  REQUIRE(c.send("one\n"));
  REQUIRE(c.reply() == "one");
  server.signal(sig);
  CHECK(test::wait_until([&] { return refused(server.port()); }, 1s));
  CHECK_FALSE(listening_on("127.0.0.1:" + std::to_string(server.port())));
  REQUIRE(c.send("still served\n"));
  CHECK(c.reply() == "stillserved");
  CHECK(test::alive(server.pid()));
  c.close();
  CHECK(server.wait_exit(5s) == 0);
}

}  // namespace

TEST_CASE("TERM refuses new connections within a second while a busy client is still served") {
  check_refuses_while_a_client_is_served(SIGTERM);
}

TEST_CASE("QUIT refuses new connections within a second while a busy client is still served") {
  check_refuses_while_a_client_is_served(SIGQUIT);
}

TEST_CASE("reload: a removed listener refuses at once while its busy old worker serves on, a kept one serves") {
  Server server({}, "workers = 2\nlisten = [\"127.0.0.1:0\", \"127.0.0.2:0\"]\n");
  REQUIRE(server.wait_workers(2));
  uint16_t kept = server.port(0), removed = server.port(1);
  Client busy = Client::connect(removed, "127.0.0.2");
  REQUIRE(busy.send("old\n"));
  REQUIRE(busy.reply() == "old");
  server.dir().write("wsserver.conf", "workers = 2\nlisten = [\"127.0.0.1:0\"]\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 2"));
  CHECK(test::wait_until([&] { return refused(removed, "127.0.0.2"); }, 1s));
  CHECK_FALSE(listening_on("127.0.0.2:" + std::to_string(removed)));
  Client fresh = Client::connect(kept);
  REQUIRE(fresh.send("new one\n"));
  CHECK(fresh.reply() == "newone");
  REQUIRE(busy.send("still old\n"));
  CHECK(busy.reply() == "stillold");
}

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
