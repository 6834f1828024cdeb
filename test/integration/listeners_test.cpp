// Listener forms: udp:, unix:, [::1]:PORT, and several at once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;
using test::port_of;

namespace {


// One datagram to 127.0.0.1:port; its answer, or nullopt after 3 s.
std::optional<std::string> datagram(uint16_t port, const std::string& payload) {
  ws::Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sendto(fd.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return std::nullopt;
  pollfd p{fd.get(), POLLIN, 0};
  if (poll(&p, 1, 3000) != 1) return std::nullopt;
  std::string buf(70000, '\0');
  ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}


// A socket file whose server is gone (it was never unlinked).
void leave_stale_socket(const std::string& path) {
  ws::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
}

}  // namespace

TEST_CASE("udp: each datagram is answered with one datagram") {
  Server server({"--workers", "2", "--listen", "udp:127.0.0.1:0"});
  uint16_t port = port_of(server.addresses().at(0));
  CHECK(datagram(port, "hello big world\n") == std::string("hellobigworld\0", 14));
  CHECK(datagram(port, "no terminator") == std::string("noterminator\0", 13));
  CHECK(datagram(port, "") == std::string(1, '\0'));
  std::string big, expected;
  while (big.size() < 60 * 1024) big += "ab cd\t";
  for (char c : big)
    if (c != ' ' && c != '\t') expected += c;
  auto r = datagram(port, big);
  REQUIRE(r);
  CHECK(r->size() == expected.size() + 1);
  CHECK(*r == expected + '\0');
  CHECK(datagram(port, "exit\n") == std::string("exit\0", 5));  // commands mean nothing here
}

TEST_CASE("unix: a round trip, and the socket file removed at exit") {
  Server server({"--workers", "1", "--listen", "unix:{dir}/w.sock"});
  std::string path = server.dir().file("w.sock");
  Client c = Client::connect_unix(path);
  REQUIRE(c.send("over unix\n"));
  CHECK(c.reply() == "overunix");
  c.close();
  server.signal(SIGTERM);
  REQUIRE(server.wait_exit() == 0);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("unix: a stale socket file is replaced, a live one is not") {
  test::TempDir dir;
  std::string path = dir.file("w.sock");
  leave_stale_socket(path);
  {
    Server server({"--workers", "1", "--listen", "unix:" + path, "--pid_file", dir.file("a.pid")});
    Client c = Client::connect_unix(path);
    REQUIRE(c.send("fresh\n"));
    CHECK(c.reply() == "fresh");
    c.close();
    auto second = test::run_wsserver({"-c", "/dev/null", "--listen", "unix:" + path, "--pid_file", dir.file("b.pid")});
    CHECK(second.status == 71);
    CHECK_THAT(second.err, Catch::Contains("a running server is listening there"));
    Client still = Client::connect_unix(path);  // the live server kept its file
    REQUIRE(still.send("mine\n"));
    CHECK(still.reply() == "mine");
  }
  std::string file = dir.write("plain", "not a socket");
  auto r = test::run_wsserver({"-c", "/dev/null", "--listen", "unix:" + file, "--pid_file", dir.file("c.pid")});
  CHECK(r.status == 71);
  CHECK(test::read_file(file) == "not a socket");
}

TEST_CASE("IPv6 loopback: a round trip on [::1]") {
  if (!test::have_ipv6_loopback()) {
    std::puts("SKIPPED: no IPv6 on loopback");
    return;
  }
  Server server({"--workers", "1", "--listen", "[::1]:0"});
  CHECK_THAT(server.addresses().at(0), Catch::StartsWith("[::1]:"));
  Client c = Client::connect(server.port(), "::1");
  REQUIRE(c.send("six\n"));
  CHECK(c.reply() == "six");
}

TEST_CASE("several listeners at once serve the same service") {
  Server server({"--workers", "2", "--listen", "127.0.0.1:0", "--listen", "unix:{dir}/w.sock", "--listen",
                 "udp:127.0.0.1:0", "--reply_terminator", "lf"});
  REQUIRE(server.addresses().size() == 3);
  Client tcp = Client::connect(port_of(server.addresses()[0]));
  REQUIRE(tcp.send("t c p\n"));
  CHECK(tcp.reply(5s, '\n') == "tcp");
  Client local = Client::connect_unix(server.dir().file("w.sock"));
  REQUIRE(local.send("u n i x\n"));
  CHECK(local.reply(5s, '\n') == "unix");
  // Datagrams are answered by idle workers: let the two clients go.
  tcp.close();
  local.close();
  CHECK(datagram(port_of(server.addresses()[2]), "u d p") == "udp\n");
}

// [no-valgrind]: LD_PRELOAD would go into valgrind.
TEST_CASE("a bare port 0 whose port is taken for IPv4 picks another for both families", "[no-valgrind]") {
  if (!test::have_ipv6_loopback()) {
    WARN("no IPv6: one socket, nothing to race");
    return;
  }
  // The port the kernel picks for the IPv6 socket is free only for IPv6;
  // here it is taken for IPv4 the first time, as another process might.
  Server server({"--workers", "1", "--listen", "0"}, "", {"LD_PRELOAD=" + test::build_dir() + "/port-taken-once.so"});
  REQUIRE(server.addresses().size() == 2);
  uint16_t port = port_of(server.addresses().back());
  CHECK(server.addresses().front() == "[::]:" + std::to_string(port));
  Client v4 = Client::connect(port, "127.0.0.1");
  REQUIRE(v4.send("four\n"));
  CHECK(v4.reply() == "four");
}

TEST_CASE("a bare port listens on every IPv4 and IPv6 address") {
  // Port 0: the kernel picks one, and both families share it.
  Server server({"--workers", "1", "--listen", "0"});
  bool six = test::have_ipv6_loopback();
  REQUIRE(server.addresses().size() == (six ? 2u : 1u));
  uint16_t port = port_of(server.addresses().back());
  CHECK_THAT(server.addresses().back(), Catch::StartsWith("0.0.0.0:"));
  Client v4 = Client::connect(port, "127.0.0.1");
  REQUIRE(v4.send("four\n"));
  CHECK(v4.reply() == "four");
  v4.close();
  if (six) {
    CHECK(server.addresses().front() == "[::]:" + std::to_string(port));
    Client v6 = Client::connect(port, "::1");
    REQUIRE(v6.send("six\n"));
    CHECK(v6.reply() == "six");
  }
}
