// Bursts (SPEC section 12): clients waiting in the accept queue, or a
// datagram waiting, start workers at once; the idle excess retires in
// batches afterwards; -s status shows each listener's queue and its peak.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;
using test::port_of;

namespace {

// One datagram to 127.0.0.1:port; its answer, or nullopt after `timeout`.
std::optional<std::string> datagram(uint16_t port, const std::string& payload, std::chrono::milliseconds timeout) {
  ws::Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sendto(fd.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return std::nullopt;
  pollfd p{fd.get(), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buf[2048];
  ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

// `count` clients connected at once, each having sent "burst N".
std::vector<Client> burst(uint16_t port, int count) {
  std::vector<Client> clients;
  for (int i = 0; i < count; ++i) clients.push_back(Client::connect(port));
  for (int i = 0; i < count; ++i) REQUIRE(clients[i].send("burst " + std::to_string(i) + "\n"));
  return clients;
}

std::string status(const Server& server, const std::string& form) {
  std::vector<std::string> args = {"-s", "status"};
  if (form == "json") args.push_back("--json");
  return test::run_wsserver(server.same_files(args)).out;
}

// The CPUs a process may run on, as /proc/PID/status lists them ("0-1").
std::string cpus_allowed(int pid) { return test::status_field(pid, "Cpus_allowed_list"); }

}  // namespace

TEST_CASE("a burst of 60 clients to a pool of 2 is answered at once, and the pool shrinks back after") {
  Server server({"--workers", "2", "--min_spare", "1", "--max_spare", "2", "--max_workers", "100"});
  REQUIRE(server.wait_workers(2));
  std::vector<Client> clients = burst(server.port(), 60);
  // The ramp of old (1, 2, 4 ... a second) would need six seconds and
  // never log this; the burst starts the missing workers in one go.
  CHECK(server.wait_log("workers at once", 10s));
  for (int i = 0; i < 60; ++i) CHECK(clients[i].reply(20s) == "burst" + std::to_string(i));
  CHECK(server.workers().size() >= 60);
  CHECK(server.workers().size() <= 100);

  std::string text = status(server, "text");
  CHECK_THAT(text, Catch::Contains("accept queues: " + server.addresses()[0] + " 0 (peak "));
  CHECK_THAT(text, !Catch::Contains("(peak 0)"));
  std::string json = status(server, "json");
  CHECK_THAT(json, Catch::Contains("\"queues\":[{\"listener\":\"" + server.addresses()[0] + "\",\"length\":0,\"peak\":"));

  clients.clear();
  // Batches, not one a second: 58 spare workers are gone in about ten seconds.
  CHECK(server.wait_workers(2, 30s));
  CHECK(server.log_count("exited with status 0") >= 58);
}

TEST_CASE("a datagram waiting while every worker is busy starts a worker") {
  Server server({"--workers", "1", "--max_workers", "4", "--listen", "127.0.0.1:0", "--listen", "udp:127.0.0.1:0"});
  REQUIRE(server.wait_workers(1));
  Client busy = Client::connect(port_of(server.addresses()[0]));
  REQUIRE(busy.send("busy\n"));
  REQUIRE(busy.reply() == "busy");
  // min_spare is 0: only the waiting datagram can start a second worker.
  CHECK(datagram(port_of(server.addresses()[1]), "u d p\n", 10s) == std::string("udp\0", 4));
  CHECK(server.workers().size() == 2);
  std::string text = status(server, "text");
  CHECK_THAT(text, Catch::Contains(server.addresses()[1] + " -"));
}

TEST_CASE("a burst over max_workers with overflow reject: the excess is told, nobody hangs") {
  Server server({"--workers", "2", "--max_workers", "10", "--overflow", "reject"});
  REQUIRE(server.wait_workers(2));
  std::vector<Client> clients = burst(server.port(), 30);
  int served = 0, rejected = 0, other = 0;
  for (int i = 0; i < 30; ++i) {
    auto reply = clients[i].reply(20s);
    if (reply == "burst" + std::to_string(i)) ++served;
    else if (reply == "ERR too many clients" && clients[i].closed_within(5s)) ++rejected;
    else ++other;
  }
  CHECK(served == 10);
  CHECK(rejected == 20);
  CHECK(other == 0);
  // Not "workers at once": in reject mode the master may take the queued
  // clients itself before its burst rule sees them, and the pool then grows
  // by the overflow path; either way it ends full.
  CHECK(server.wait_log("too many clients: all 10 workers are busy"));
  CHECK(server.workers().size() == 10);
}

TEST_CASE("workers started in a burst run on every CPU the master was given, and so does the master after") {
  // The master stays on one CPU while it forks a batch (master_pool.cpp);
  // each worker must take the master's set back, or a burst would leave
  // the whole pool on one CPU.
  cpu_set_t mine;
  REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
  if (CPU_COUNT(&mine) < 2) {
    WARN("one CPU: nothing to check");
    return;
  }
  std::string all = cpus_allowed(getpid());
  Server server({"--workers", "1", "--min_spare", "1", "--max_spare", "2", "--max_workers", "100"});
  REQUIRE(server.wait_workers(1));
  std::vector<Client> clients = burst(server.port(), 40);
  REQUIRE(server.wait_log("workers at once", 10s));
  for (int i = 0; i < 40; ++i) REQUIRE(clients[i].reply(20s) == "burst" + std::to_string(i));
  std::vector<int> workers = server.workers();
  CHECK(workers.size() >= 40);
  int elsewhere = 0;
  for (int pid : workers)
    if (cpus_allowed(pid) != all) ++elsewhere;
  CHECK(elsewhere == 0);
  CHECK(cpus_allowed(server.pid()) == all);
}
