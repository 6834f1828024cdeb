// The chat service: every message reaches every other client in every
// worker, in one order that all see; slow readers and leavers hurt nobody.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <sstream>
#include <set>
#include <thread>

#include "../support/chat_order.hpp"
#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

std::vector<std::string> chat_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--service", "chat", "--reply_terminator", "lf"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Waits until `n` workers are busy, i.e. n clients have joined.
bool wait_busy(const Server& server, size_t n) {
  return test::wait_until([&] {
    auto r = test::run_wsserver(server.same_files({"-s", "status"}));
    size_t busy = 0;
    for (size_t at = 0; (at = r.out.find(" busy ", at)) != std::string::npos; ++at) ++busy;
    return busy >= n;
  }, 15s);
}

}  // namespace

TEST_CASE("chat: 30 clients each get every other client's 20 messages in one order") {
  // One client per worker: the pool starts at 10 and grows to hold all 30.
  Server server(chat_args({"--workers", "10", "--min_spare", "5", "--max_workers", "64"}));
  const int n = 30, per = 20;
  std::vector<Client> clients;
  for (int i = 0; i < n; ++i) clients.push_back(Client::connect(server.port()));
  REQUIRE(wait_busy(server, n));
  for (int k = 0; k < per; ++k)
    for (int i = 0; i < n; ++i) REQUIRE(clients[i].send("c" + std::to_string(i) + " m" + std::to_string(k) + "\n"));
  std::vector<std::vector<std::string>> got(n);
  for (int i = 0; i < n; ++i) {
    got[i] = test::lines(clients[i], (n - 1) * per);
    INFO("client " << i);
    REQUIRE(got[i].size() == size_t((n - 1) * per));
    std::set<std::string> distinct(got[i].begin(), got[i].end());
    CHECK(distinct.size() == got[i].size());  // no duplicates
    for (const auto& m : got[i]) CHECK(m.rfind("c" + std::to_string(i) + " ", 0) != 0);  // never its own
  }
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) REQUIRE(test::without(got[a], a, b) == test::without(got[b], a, b));
  CHECK(clients[0].quiet_for(200ms));  // nothing more, nothing twice
}

TEST_CASE("chat: a client that never reads is cut at chat_backlog while the others complete") {
  Server server(chat_args({"--workers", "4", "--chat_backlog", "65536", "--access_log", "{dir}/access.log"}));
  // A small receive window, so what waits on the server is what fills.
  Client sleeper = Client::connect_with_receive_buffer(server.port(), 4096);
  std::vector<Client> talkers;
  for (int i = 0; i < 3; ++i) talkers.push_back(Client::connect(server.port()));
  REQUIRE(wait_busy(server, 4));
  // Once cut, the sleeper reads again: it gets what was queued, the notice
  // that says why, and the end.
  std::optional<std::string> tail;
  std::thread wake([&] {
    if (server.wait_log("closed a chat client that read too slowly", 30s)) tail = sleeper.read_to_eof(10s);
  });
  // Rounds: the talkers read everything of a round before the next, so
  // they never fall behind; the sleeper gets 3 x 40 x 1 KiB a round.
  const int rounds = 12, per = 40;
  const std::string pad(1000, 'x');
  size_t received = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < per; ++k)
      for (int i = 0; i < 3; ++i) REQUIRE(talkers[i].send("c" + std::to_string(i) + " " + std::to_string(k) + pad + "\n"));
    for (int i = 0; i < 3; ++i) received += test::lines(talkers[i], 2 * per).size();
  }
  CHECK(received == size_t(rounds * 3 * 2 * per));
  wake.join();
  REQUIRE(tail);
  CHECK_THAT(*tail, Catch::EndsWith("\nERR too slow\n"));
  // Whole messages only, up to the notice.
  std::istringstream lines_in(tail->substr(0, tail->size() - 13));
  for (std::string line; std::getline(lines_in, line);) {
    CHECK(line.rfind("c", 0) == 0);
    CHECK(line.size() > 1000);
  }
  REQUIRE(test::wait_until([&] {
    return test::read_file(server.dir().file("access.log")).find(" too-slow\n") != std::string::npos;
  }));
}

// [no-valgrind]: counts churn per unit of time.
TEST_CASE("chat: clients joining and leaving never break delivery to the rest", "[no-valgrind]") {
  Server server(chat_args({"--workers", "8", "--min_spare", "3", "--max_workers", "32"}));
  std::vector<Client> stable;
  for (int i = 0; i < 3; ++i) stable.push_back(Client::connect(server.port()));
  REQUIRE(wait_busy(server, 3));
  std::atomic<bool> done{false};
  std::atomic<int> churned{0};
  std::thread churn([&] {
    for (int i = 0; !done; ++i) {
      auto c = Client::try_connect(server.port());
      if (!c) continue;
      if (i % 2) c->send("x" + std::to_string(i) + " passing through\n");
      if (i % 3 == 0) c->reset();
      ++churned;
    }
  });
  const int per = 300;
  std::vector<std::vector<std::string>> got(3);
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i)
    readers.emplace_back([&, i] {
      // Keep the other stable clients' messages; churners' may come or not.
      auto deadline = test::Clock::now() + 30s;
      while (got[i].size() < size_t(2 * per) && test::Clock::now() < deadline) {
        auto line = stable[i].reply(5s, '\n');
        if (!line) break;
        if (line->rfind("c", 0) == 0) got[i].push_back(*line);
      }
    });
  for (int k = 0; k < per; ++k) {
    // Paced by the churn, so that it overlaps the delivery it is meant to
    // disturb even when a loaded machine gives the churn thread little time.
    if (k % 10 == 0) test::wait_until([&] { return churned >= k / 10; }, 5s);
    for (int i = 0; i < 3; ++i) REQUIRE(stable[i].send("c" + std::to_string(i) + " " + std::to_string(k) + "\n"));
  }
  for (auto& r : readers) r.join();
  // On a loaded machine the stable clients can finish before the churn
  // thread got its share of the CPU: give it a deadline, not a race.
  CHECK(test::wait_until([&] { return churned > 20; }, 30s));
  done = true;
  churn.join();
  for (int i = 0; i < 3; ++i) REQUIRE(got[i].size() == size_t(2 * per));
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) CHECK(test::without(got[a], a, b) == test::without(got[b], a, b));
  // Each sender's messages arrive in the order sent.
  for (int i = 0; i < 3; ++i) {
    std::map<int, int> next;
    for (const auto& m : got[i]) {
      int sender = std::stoi(m.substr(1)), k = std::stoi(m.substr(m.find(' ') + 1));
      CHECK(k == next[sender]++);
    }
  }
}

TEST_CASE("chat: a message over max_message is refused and the connection stays usable") {
  Server server(chat_args({"--workers", "2", "--max_message", "100"}));
  Client a = Client::connect(server.port()), b = Client::connect(server.port());
  REQUIRE(wait_busy(server, 2));
  REQUIRE(a.send(std::string(150, 'y') + "\n"));
  CHECK(a.reply(5s, '\n') == "ERR message too long");
  REQUIRE(a.send("short one\n"));
  CHECK(b.reply(5s, '\n') == "short one");
  CHECK(b.quiet_for(200ms));  // the long one never reached b
}

TEST_CASE("chat: a worker that dies takes only its own client") {
  Server server(chat_args({"--workers", "4"}));
  std::vector<Client> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Client::connect(server.port()));
  REQUIRE(wait_busy(server, 4));
  // The worker serving client 0: its client port is in the status.
  auto json = test::run_wsserver(server.same_files({"-s", "status", "--json"})).out;
  sockaddr_in local{};
  socklen_t len = sizeof local;
  getsockname(clients[0].fd(), reinterpret_cast<sockaddr*>(&local), &len);
  std::string tag = "\"client\":\"127.0.0.1:" + std::to_string(ntohs(local.sin_port)) + "\"";
  size_t at = json.find(tag);
  REQUIRE(at != std::string::npos);
  size_t pid_at = json.rfind("\"pid\":", at);
  int victim = std::stoi(json.substr(pid_at + 6));
  REQUIRE(kill(victim, SIGKILL) == 0);
  CHECK(clients[0].closed_within(5s));
  for (int k = 0; k < 50; ++k)
    for (int i = 1; i < 4; ++i) REQUIRE(clients[i].send("c" + std::to_string(i) + " " + std::to_string(k) + "\n"));
  for (int i = 1; i < 4; ++i) CHECK(test::lines(clients[i], 100).size() == 100);
}
