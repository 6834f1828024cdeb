// security_pool: issue 11's findings on udp listeners (4), the scoreboard
// (5), reload and max_workers (8) and the master's overflow accepts (9). Each
// test failed on the code before its fix.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/status_json.hpp"
#include "../support/wait.hpp"
#include "wsserver/control.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/scoreboard.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;
using test::port_of;

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A udp socket on 127.0.0.1:port (0: any free port).
ws::Fd udp_socket(uint16_t port = 0) {
  ws::Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return ws::Fd();
  return fd;
}

bool send_to(int fd, uint16_t port, std::string_view payload) {
  sockaddr_in to = loopback(port);
  return sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(payload.size());
}

// The datagrams that reach `fd` until it stays quiet for `quiet`.
int count_replies(int fd, std::chrono::milliseconds quiet) {
  int n = 0;
  char buf[2048];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, static_cast<int>(quiet.count())) == 1)
    if (recv(fd, buf, sizeof buf, 0) >= 0) ++n;
  return n;
}

// A datagram from 127.0.0.1:from to 127.0.0.1:to, whoever holds `from`: the
// source a hostile peer would forge. IPPROTO_RAW builds the IP header by
// hand; a zero UDP checksum means "none" in IPv4.
bool send_forged(uint16_t from, uint16_t to, std::string_view payload) {
  ws::Fd fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (!fd) return false;
  std::string packet(sizeof(iphdr) + sizeof(udphdr) + payload.size(), '\0');
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(static_cast<uint16_t>(packet.size()));
  ip->saddr = htonl(INADDR_LOOPBACK);
  ip->daddr = htonl(INADDR_LOOPBACK);
  auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
  udp->source = htons(from);
  udp->dest = htons(to);
  udp->len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  std::memcpy(packet.data() + sizeof(iphdr) + sizeof(udphdr), payload.data(), payload.size());
  sockaddr_in dest = loopback(to);
  return sendto(fd.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dest), sizeof dest) ==
         static_cast<ssize_t>(packet.size());
}

std::optional<std::string> status_text(const Server& server, int timeout_ms = 2000) {
  std::string error;
  return ws::query_control(test::control_socket_of(server.pid_file()), "status", timeout_ms, &error);
}

// The "messages N" total of `-s status`: every datagram a worker answered.
long messages_answered(const Server& server) {
  auto text = status_text(server);
  if (!text) return -1;
  size_t at = text->find("messages ");
  return at == std::string::npos ? -1 : std::atol(text->c_str() + at + 9);
}

double workers_cpu(const Server& server) {
  double sum = 0;
  for (int w : server.workers()) sum += test::cpu_seconds(w);
  return sum;
}

}  // namespace

// ---- finding 4: udp echo loops (CVE-1999-0103) ----

// [no-valgrind]: worker CPU.
TEST_CASE("security: a datagram forged from the server's own udp address starts no loop", "[no-valgrind]") {
  if (test::skip_unless_root("forge a source address with a raw socket")) return;
  for (std::string second : {"udp:127.0.0.1:0", "udp:0.0.0.0:0"}) {
    INFO("second listener " << second);
    Server server({"--workers", "2", "--listen", "udp:127.0.0.1:0", "--listen", second});
    REQUIRE(server.wait_workers(2));
    uint16_t a = port_of(server.addresses().at(0)), b = port_of(server.addresses().at(1));
    // To itself, and from one listener to the other (which would answer back).
    REQUIRE(send_forged(a, a, "ping\n"));
    REQUIRE(send_forged(a, b, "pong\n"));
    REQUIRE(send_forged(b, b, "pang\n"));
    double cpu_before = workers_cpu(server);
    std::this_thread::sleep_for(1s);  // the window a loop would spin in
    CHECK(messages_answered(server) == 0);
    CHECK(workers_cpu(server) - cpu_before < 0.2);
    CHECK(server.wait_log("dropped a datagram from the server's own address"));
    // Everyone else is still answered.
    ws::Fd peer = udp_socket();
    REQUIRE(send_to(peer.get(), b, "still here\n"));
    CHECK(count_replies(peer.get(), 1s) == 1);
  }
}

TEST_CASE("security: datagrams from source ports 7, 13, 19 and 37 get no reply") {
  if (test::skip_unless_root("bind privileged source ports")) return;
  Server server({"--workers", "1", "--listen", "udp:127.0.0.1:0"});
  uint16_t port = port_of(server.addresses().at(0));
  for (uint16_t source : {7, 13, 19, 37}) {
    INFO("source port " << source);
    ws::Fd s = udp_socket(source);
    REQUIRE(s);
    REQUIRE(send_to(s.get(), port, "loop me\n"));
    CHECK(count_replies(s.get(), 300ms) == 0);
  }
  ws::Fd ordinary = udp_socket();
  REQUIRE(send_to(ordinary.get(), port, "me too\n"));
  CHECK(count_replies(ordinary.get(), 1s) == 1);
  CHECK(server.log_count("dropped a datagram from a loop port") == 1);  // once per few seconds
}

namespace {

// This host's first IPv4 address that is not loopback, or "".
std::string outside_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
      continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(list);
  return found;
}

sockaddr_in ipv4(const std::string& host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  return a;
}

}  // namespace

// [no-valgrind]: replies per unit of time.
TEST_CASE("security: replies to one udp source are capped per second", "[no-valgrind]") {
  // Loopback sources are not capped (they cannot be forged from outside):
  // the flood comes from this host's own outside address.
  std::string host = outside_address();
  if (host.empty()) {
    std::printf("SKIPPED: no IPv4 address but loopback\n");
    return;
  }
  Server server({"--workers", "1", "--listen", "udp:" + host + ":0"});
  sockaddr_in to = ipv4(host, port_of(server.addresses().at(0))), from = ipv4(host, 0);
  ws::Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(bind(s.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  int big = 4 << 20;
  setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);  // root; else what rmem_max allows
  std::atomic<int> replies{0};
  std::thread reader([&] { replies = count_replies(s.get(), 1s); });
  auto start = test::Clock::now();
  for (int i = 0; i < 1000; ++i) {
    sendto(s.get(), "flood\n", 6, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    // Paced a little so the server's receive buffer does not drop them.
    if (i % 50 == 49) std::this_thread::sleep_for(2ms);
  }
  double seconds = std::chrono::duration<double>(test::Clock::now() - start).count();
  reader.join();
  INFO("sent 1000 in " << seconds << " s, " << replies << " replies");
  CHECK(replies >= 50);  // the source is served, up to the cap
  CHECK(replies <= 100 + static_cast<int>(100 * (seconds + 0.1)) + 5);
  CHECK(server.wait_log("udp replies to " + host + " over 100 a second"));
  CHECK(server.log_count("over 100 a second") == 1);
}

// ---- finding 5: the scoreboard ----

namespace {

// The address of `worker`'s scoreboard slot, in the worker: the slot of the
// shared anonymous mapping whose pid field holds the worker's pid.
std::optional<uintptr_t> find_slot(int worker) {
  std::ifstream maps("/proc/" + std::to_string(worker) + "/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(" rw-s ") == std::string::npos || line.find("/dev/zero") == std::string::npos) continue;
    uintptr_t begin = std::stoul(line, nullptr, 16), end = std::stoul(line.substr(line.find('-') + 1), nullptr, 16);
    // Slots are 64-byte aligned and begin with their pid.
    for (uintptr_t at = begin; at + sizeof(ws::WorkerSlot) <= end && at < begin + (1 << 20); at += 64) {
      int32_t pid = 0;
      iovec local{&pid, sizeof pid}, remote{reinterpret_cast<void*>(at), sizeof pid};
      if (process_vm_readv(worker, &local, 1, &remote, 1, 0) != sizeof pid) break;
      if (pid == worker) return at;
    }
  }
  return std::nullopt;
}

}  // namespace

// [no-valgrind]: finds the slot in a worker's own mappings.
TEST_CASE("security: a worker that scribbles over its scoreboard slot cannot hang the master", "[no-valgrind]") {
  if (test::skip_unless_root("write into a worker's memory")) return;
  Server server({"--workers", "1"});
  REQUIRE(server.wait_workers(1));
  int worker = server.workers().at(0);
  Client busy = Client::connect(server.port());
  REQUIRE(busy.send("hold\n"));
  REQUIRE(busy.reply() == "hold");
  auto slot = find_slot(worker);
  REQUIRE(slot);
  // What a hostile (or half-dead) worker could leave: every byte 3, so the
  // state reads busy and the client's sequence number stays odd.
  std::string garbage(sizeof(ws::WorkerSlot), '\3');
  iovec local{garbage.data(), garbage.size()}, remote{reinterpret_cast<void*>(*slot), garbage.size()};
  REQUIRE(process_vm_writev(worker, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(garbage.size()));
  auto status = status_text(server);
  REQUIRE(status);
  CHECK_THAT(*status, Catch::Contains("wsserver") && Catch::Contains("workers: 1"));
  REQUIRE(busy.send("still\n"));
  CHECK(busy.reply() == "still");
  busy.close();
  server.signal(SIGTERM);
  CHECK(server.wait_exit(10s) == 0);
}

// ---- finding 8: reload and max_workers ----

TEST_CASE("security: reloads never run more than max_workers workers") {
  Server server({}, "workers = 2\nmax_workers = 2\n");
  REQUIRE(server.wait_workers(2));
  std::vector<Client> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(Client::connect(server.port()));
    REQUIRE(held.back().send("held\n"));
    REQUIRE(held.back().reply() == "held");
  }
  size_t most = 0;
  for (int round = 2; round <= 5; ++round) {
    server.signal(SIGHUP);
    REQUIRE(server.wait_log("reloaded: generation " + std::to_string(round)));
    most = std::max(most, server.workers().size());
  }
  // Two more clients: no room for a worker to serve them while the held
  // ones stay.
  std::vector<Client> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(Client::connect(server.port()));
    REQUIRE(waiting.back().send("later\n"));
  }
  auto until = test::Clock::now() + 1s;
  while (test::Clock::now() < until) {
    most = std::max(most, server.workers().size());
    std::this_thread::sleep_for(20ms);
  }
  CHECK(most <= 2);
  for (auto& w : waiting) CHECK(w.quiet_for(10ms));
  for (auto& h : held) {
    REQUIRE(h.send("again\n"));
    CHECK(h.reply() == "again");
  }
  held.clear();
  // The new generation takes over and serves the ones that waited.
  for (auto& w : waiting) CHECK(w.reply() == "later");
  REQUIRE(server.wait_workers(2));
  auto status = test::query_status(test::control_socket_of(server.pid_file()));
  REQUIRE(status);
  CHECK(status->workers.size() <= 2);
  for (const auto& w : status->workers) CHECK(w.generation == 5);
}

// ---- finding 9: the master out of descriptors ----

namespace {

// The lowest descriptor number `pid` does not hold.
int lowest_free_fd(int pid) {
  std::set<int> used;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    used.insert(std::stoi(e.path().filename().string()));
  int n = 0;
  while (used.count(n)) ++n;
  return n;
}

}  // namespace

// [no-valgrind]: CPU time; valgrind reserves descriptors.
TEST_CASE("security: out of descriptors the master pauses overflow accepts without spinning", "[no-valgrind]") {
  Server server({"--workers", "1", "--max_workers", "1", "--overflow", "reject"});
  REQUIRE(server.wait_workers(1));
  Client busy = Client::connect(server.port());
  REQUIRE(busy.send("busy\n"));
  REQUIRE(busy.reply() == "busy");
  // The soft limit only, so that it can be raised again.
  rlimit normal{};
  REQUIRE(prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &normal) == 0);
  rlimit tight{static_cast<rlim_t>(lowest_free_fd(server.pid())), normal.rlim_max};
  REQUIRE(prlimit(server.pid(), RLIMIT_NOFILE, &tight, nullptr) == 0);
  Client extra = Client::connect(server.port());
  REQUIRE(extra.send("x\n"));
  CHECK(server.wait_log("cannot accept: Too many open files; pausing accepts"));
  double before = test::cpu_seconds(server.pid());
  CHECK(extra.quiet_for(1500ms));
  CHECK(test::cpu_seconds(server.pid()) - before < 0.3);
  CHECK(server.log_count("cannot accept") == 1);  // at most once every few seconds
  REQUIRE(prlimit(server.pid(), RLIMIT_NOFILE, &normal, nullptr) == 0);
  CHECK(extra.reply() == "ERR too many clients");
}
