// wsbench's chat mode against a real wsserver: a clean run delivers every
// message to every other client, and what must fail does: too few workers
// for the join, the echo service sending messages back, a server that drops
// its clients with "ERR too slow".
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/program.hpp"
#include "../support/server.hpp"
#include "wsserver/fd.hpp"

using test::json_number;
using test::ProgramResult;
using test::Server;

namespace {

ProgramResult wsbench_chat(uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv{test::wsbench_binary(), "-p", std::to_string(port), "--json", "chat"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_program(argv);
}

// A server that answers every connection with "ERR too slow" and closes it,
// as wsserver does to a chat client that fell chat_backlog behind.
class DroppingServer {
 public:
  DroppingServer() : listener_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(listener_.get(), 16) == 0);
    REQUIRE(getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingServer() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;  // looks at stop_ between waits
      ws::Fd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) (void)!send(client.get(), "ERR too slow\n", 13, MSG_NOSIGNAL);
    }
  }
  ws::Fd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("wsbench chat against wsserver: every client gets every other client's messages once, in one order") {
  Server server({"--service", "chat", "--reply_terminator", "lf", "--workers", "8"});
  ProgramResult r = wsbench_chat(server.port(), {"-c", "8", "-n", "200", "--reply-terminator", "lf"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("\"joined\":true") != std::string::npos);
  CHECK(json_number(r.out, "sent") == 8 * 200);
  CHECK(json_number(r.out, "deliveries") == 8 * 7 * 200);
  CHECK(json_number(r.out, "completed") == 8 * 200);
  CHECK(json_number(r.out, "errors") == 0);
  CHECK(r.out.find("\"ok\":true") != std::string::npos);
}

TEST_CASE("wsbench chat with NUL-terminated deliveries, larger messages and a rate") {
  Server server({"--service", "chat", "--workers", "4"});
  ProgramResult r = wsbench_chat(server.port(), {"-c", "4", "-n", "100", "-S", "1000", "-r", "1000"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 0);
  CHECK(json_number(r.out, "deliveries") == 4 * 3 * 100);
  CHECK(json_number(r.out, "errors") == 0);
}

TEST_CASE("wsbench chat fails the join when the server has fewer workers than clients") {
  // The fourth client waits in the listen backlog and never joins the chat.
  Server server({"--service", "chat", "--workers", "3", "--max_workers", "3"});
  ProgramResult r = wsbench_chat(server.port(), {"-c", "4", "-n", "10", "--deadline", "1"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("\"joined\":false") != std::string::npos);
  CHECK(json_number(r.out, "sent") == 0);
  CHECK(r.err.find("idle workers") != std::string::npos);
}

TEST_CASE("wsbench chat counts messages that come back to their sender") {
  Server server({"--service", "echo", "--workers", "2"});
  ProgramResult r = wsbench_chat(server.port(), {"-c", "2", "-n", "10", "--deadline", "5"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(json_number(r.out, "own_copies") >= 1);
  CHECK(r.out.find("\"ok\":false") != std::string::npos);
}

TEST_CASE("wsbench chat counts ERR too slow as an error") {
  DroppingServer server;
  ProgramResult r = wsbench_chat(server.port(), {"-c", "2", "-n", "10", "--reply-terminator", "lf", "--deadline", "5"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(json_number(r.out, "too_slow") >= 1);
  CHECK(json_number(r.out, "errors") >= 1);
  // The close that follows the notice is not counted again.
  CHECK(json_number(r.out, "early_closes") == 0);
  CHECK(r.err.find("ERR too slow") != std::string::npos);
}
