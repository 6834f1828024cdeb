// SIGHUP: reread the config; a broken one changes nothing, a good one
// replaces the workers while unchanged listeners stay open.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("a broken config on reload is logged and changes nothing") {
  Server server({}, "workers = 2\n");
  REQUIRE(server.wait_workers(2));
  auto before = server.workers();
  server.dir().write("wsserver.conf", "workers = 2\nbogus = 1\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reload failed, nothing changed"));
  CHECK_THAT(server.log(), Catch::Contains("wsserver.conf:2: bogus: unknown key"));
  CHECK(server.workers() == before);
  Client c = Client::connect(server.port());
  REQUIRE(c.send("still fine\n"));
  CHECK(c.reply() == "stillfine");
}

TEST_CASE("a good config on reload starts new workers and retires the old") {
  Server server({}, "workers = 2\n");
  REQUIRE(server.wait_workers(2));
  auto old_workers = server.workers();
  Client busy = Client::connect(server.port());  // held by an old worker across the reload
  REQUIRE(busy.send("before\n"));
  REQUIRE(busy.reply() == "before");
  server.dir().write("wsserver.conf", "workers = 3\nreply_terminator = lf\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 2"));
  // The idle old worker leaves; the busy one finishes its client first.
  REQUIRE(test::wait_until([&] { return server.workers().size() == 4; }));
  REQUIRE(busy.send("during\n"));
  CHECK(busy.reply() == "during");  // its old config: NUL-terminated
  busy.close();
  REQUIRE(server.wait_workers(3));
  for (int w : server.workers()) CHECK_FALSE(contains(old_workers, w));
  Client fresh = Client::connect(server.port());
  REQUIRE(fresh.send("a b\n"));
  CHECK(fresh.reply(5s, '\n') == "ab");
}

TEST_CASE("not one short connection is refused or answered wrongly through reloads") {
  Server server({}, "workers = 3\n");
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0};
  auto loop = [&] {
    for (int i = 0; !done; ++i) {
      auto c = Client::try_connect(server.port());
      std::string m = "n " + std::to_string(i) + "\n";
      if (c && c->send(m) && c->reply(5s) == "n" + std::to_string(i)) ++ok;
      else ++failed;
    }
  };
  std::thread a(loop), b(loop);
  for (int round = 1; round <= 4; ++round) {
    REQUIRE(test::wait_until([&] { return ok > round * 200; }, 10s));
    server.dir().write("wsserver.conf", "workers = " + std::to_string(2 + round % 2) + "\n");
    server.signal(SIGHUP);
    REQUIRE(server.wait_log("reloaded: generation " + std::to_string(round + 1)));
  }
  REQUIRE(test::wait_until([&] { return ok > 1200; }, 10s));
  done = true;
  a.join();
  b.join();
  CHECK(failed == 0);
  CHECK(ok > 1200);
}

TEST_CASE("reload binds new listeners and closes removed ones") {
  Server server({}, "listen = [\"127.0.0.1:0\"]\nworkers = 1\n");
  uint16_t first = server.port();
  server.dir().write("wsserver.conf", "listen = [\"127.0.0.1:0\", \"[::1]:0\", \"127.0.0.2:0\"]\nworkers = 1\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 2"));
  CHECK(server.log_count("listening on 127.0.0.2:") == 1);
  // The kept listener is the same socket: the same port.
  CHECK(server.log_count("listening on 127.0.0.1:") == 1);
  Client still = Client::connect(first);
  REQUIRE(still.send("kept\n"));
  CHECK(still.reply() == "kept");
  still.close();
  server.dir().write("wsserver.conf", "listen = [\"127.0.0.2:0\"]\nworkers = 1\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 3"));
  CHECK(server.log_count("no longer listening on 127.0.0.1:" + std::to_string(first)) == 1);
  REQUIRE(server.wait_workers(1));
  CHECK(test::wait_until([&] { return !Client::try_connect(first); }));
}

TEST_CASE("TTIN and TTOU grow and shrink the pool by one") {
  Server server({"--workers", "2"});
  REQUIRE(server.wait_workers(2));
  server.signal(SIGTTIN);
  CHECK(server.wait_workers(3));
  server.signal(SIGTTOU);
  CHECK(server.wait_workers(2));
  server.signal(SIGTTOU);
  CHECK(server.wait_workers(1));
  server.signal(SIGTTOU);  // never below one
  CHECK(server.wait_log("SIGTTOU ignored"));
  CHECK(server.workers().size() == 1);
}

TEST_CASE("a reload that cannot bind a new listener leaves the logs where they were") {
  // A port this test holds, so that the reload's new listener cannot bind it.
  int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(held >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(bind(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(held, 1) == 0);
  REQUIRE(getsockname(held, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::string busy_port = std::to_string(ntohs(addr.sin_port));

  Server server({}, "listen = [\"127.0.0.1:0\"]\nworkers = 1\n");
  std::string new_log = server.dir().file("new.log");
  server.dir().write("wsserver.conf", "listen = [\"127.0.0.1:0\", \"127.0.0.1:" + busy_port +
                                          "\"]\nworkers = 1\nlog_file = \"" + new_log + "\"\n");
  server.signal(SIGHUP);
  // Said where the log was, and the new file never opened.
  CHECK(server.wait_log("reload failed, nothing changed"));
  CHECK_THAT(server.log(), Catch::Contains(busy_port));
  CHECK(access(new_log.c_str(), F_OK) != 0);
  close(held);
}
