// Chat across hosts (SPEC section 11): three wsserver chat instances on one
// Redis channel, with Debian's redis-server, started here on a free loopback
// port with no persistence, stopped, killed and restarted under them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../support/chat_order.hpp"
#include "../support/client.hpp"
#include "../support/proc_fds.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

// A port nobody listens on now (the kernel's pick for port 0), for a
// redis-server that must come back on the same one after a restart.
uint16_t free_port() {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// redis-server in its own temporary directory, cleaned up by pid.
class Redis {
 public:
  Redis() : port_(free_port()) { start(); }
  ~Redis() { kill_now(); }

  uint16_t port() const { return port_; }
  int pid() const { return pid_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/bus-test"; }

  void start() {
    REQUIRE(access("/usr/bin/redis-server", X_OK) == 0);  // make test installs it (TEST_PACKAGES)
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      int log = open(dir_.file("redis.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 1);
      dup2(log, 2);
      std::string port = std::to_string(port_);
      execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", dir_.path().c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    REQUIRE(test::wait_until([&] { return Client::try_connect(port_).has_value(); }, 10s));
  }

  // Sends `sig` and, for one that ends it, waits until it is gone.
  void signal(int sig) { kill(pid_, sig); }
  void stop(int sig) {
    kill(pid_, sig);
    int status;
    REQUIRE(test::wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 10s));
    pid_ = -1;
  }

 private:
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  test::TempDir dir_;
  uint16_t port_;
  int pid_ = -1;
};

std::vector<std::string> bus_args(const Redis& redis, int workers) {
  return {"--service", "chat", "--reply_terminator", "lf", "--workers", std::to_string(workers), "--max_workers",
          std::to_string(workers + 2), "--chat_bus", redis.url()};
}

// Three instances on the bus, each connected to Redis.
std::vector<std::unique_ptr<Server>> instances(const Redis& redis, int workers) {
  std::vector<std::unique_ptr<Server>> out;
  for (int i = 0; i < 3; ++i) out.push_back(std::make_unique<Server>(bus_args(redis, workers)));
  for (auto& s : out) REQUIRE(s->wait_log("chat bus: connected to", 10s));
  return out;
}

std::string status_text(const Server& server) { return test::run_wsserver(server.same_files({"-s", "status"})).out; }

size_t busy_workers(const Server& server) {
  std::string text = status_text(server);
  size_t busy = 0;
  for (size_t at = 0; (at = text.find(" busy ", at)) != std::string::npos; ++at) ++busy;
  return busy;
}

// A number after `label` in the status's chat bus line, or -1.
long bus_counter(const Server& server, const std::string& label) {
  std::smatch m;
  std::string text = status_text(server);
  if (!std::regex_search(text, m, std::regex("chat bus: .*" + label + " ([0-9]+)"))) return -1;
  return std::stol(m[1]);
}

bool bus_state(const Server& server, const std::string& state) {
  return status_text(server).find("/bus-test " + state + " since") != std::string::npos;
}

// One client per instance, each joined (its worker busy).
std::vector<Client> one_client_each(const std::vector<std::unique_ptr<Server>>& servers) {
  std::vector<Client> clients;
  for (auto& s : servers) clients.push_back(Client::connect(s->port()));
  for (auto& s : servers) REQUIRE(test::wait_until([&] { return busy_workers(*s) >= 1; }, 10s));
  return clients;
}

}  // namespace

TEST_CASE("chat bus: clients on three instances get every other client's messages once, in one order",
          "[bus][no-valgrind]") {
  Redis redis;
  auto servers = instances(redis, 3);
  const size_t per_instance = 2, n = 3 * per_instance, per = 20;
  std::vector<Client> clients;
  for (size_t i = 0; i < n; ++i) clients.push_back(Client::connect(servers[i % 3]->port()));
  for (auto& s : servers) REQUIRE(test::wait_until([&] { return busy_workers(*s) >= per_instance; }, 10s));
  for (size_t k = 0; k < per; ++k)
    for (size_t i = 0; i < n; ++i) REQUIRE(clients[i].send("c" + std::to_string(i) + " m" + std::to_string(k) + "\n"));
  std::vector<std::vector<std::string>> got(n);
  for (size_t i = 0; i < n; ++i) {
    got[i] = test::lines(clients[i], (n - 1) * per);
    INFO("client " << i);
    REQUIRE(got[i].size() == (n - 1) * per);
    CHECK(std::set<std::string>(got[i].begin(), got[i].end()).size() == got[i].size());  // none twice
    for (const auto& m : got[i]) CHECK(m.rfind("c" + std::to_string(i) + " ", 0) != 0);  // none of its own
  }
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a + 1; b < n; ++b) REQUIRE(test::without(got[a], a, b) == test::without(got[b], a, b));

  // The operator's broadcast, given to one instance, reaches every client of all three.
  auto sent = test::run_wsserver(servers[1]->same_files({"-s", "broadcast", "maintenance at noon"}));
  CHECK(sent.status == 0);
  for (size_t i = 0; i < n; ++i) {
    INFO("client " << i);
    CHECK(test::lines(clients[i], 1) == std::vector<std::string>{"maintenance at noon"});
  }
  CHECK(clients[0].quiet_for(200ms));
  CHECK(bus_counter(*servers[0], "lost") == 0);
}

TEST_CASE("chat bus: redis stopped gives ERR chat unavailable; restarted, chat resumes with nothing twice",
          "[bus][no-valgrind]") {
  Redis redis;
  auto servers = instances(redis, 2);
  auto clients = one_client_each(servers);
  REQUIRE(clients[0].send("c0 before\n"));
  for (size_t i : {1, 2}) REQUIRE(test::lines(clients[i], 1) == std::vector<std::string>{"c0 before"});

  redis.stop(SIGTERM);
  for (auto& s : servers) REQUIRE(test::wait_until([&] { return bus_state(*s, "down"); }, 10s));
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(clients[i].send("c" + std::to_string(i) + " during\n"));
    CHECK(test::lines(clients[i], 1) == std::vector<std::string>{"ERR chat unavailable"});
  }
  auto refused = test::run_wsserver(servers[0]->same_files({"-s", "broadcast", "nobody hears this"}));
  CHECK(refused.status == 1);
  CHECK(refused.err.find("ERR chat unavailable") != std::string::npos);

  redis.start();
  for (auto& s : servers) REQUIRE(s->wait_log("chat available again", 15s));
  for (size_t i = 0; i < 3; ++i) REQUIRE(clients[i].send("c" + std::to_string(i) + " after\n"));
  for (size_t i = 0; i < 3; ++i) {
    INFO("client " << i);
    auto got = test::lines(clients[i], 2);
    REQUIRE(got.size() == 2);
    for (const auto& m : got) CHECK(m.find(" after") != std::string::npos);
    CHECK(clients[i].quiet_for(200ms));  // no "during", no "before" again
  }
  for (auto& s : servers) {
    // The outage is logged once as it starts and once as it ends, whatever the retries.
    CHECK(s->log_count("chat unavailable until it is back") == 1);
    CHECK(s->log_count("chat available again") == 1);
    CHECK(bus_counter(*s, "outages") == 1);
  }
}

TEST_CASE("chat bus: messages lost when redis is killed in flight are reported as ERR chat gap N",
          "[bus][no-valgrind]") {
  Redis redis;
  auto servers = instances(redis, 2);
  auto clients = one_client_each(servers);
  REQUIRE(clients[0].send("c0 warm\n"));
  for (size_t i : {1, 2}) REQUIRE(test::lines(clients[i], 1) == std::vector<std::string>{"c0 warm"});

  // Frozen, Redis takes the PUBLISHes into its socket and never reads them:
  // killed then, they are lost, and the bus cannot know it.
  redis.signal(SIGSTOP);
  const int lost = 5;
  for (int k = 0; k < lost; ++k) REQUIRE(clients[0].send("c0 lost" + std::to_string(k) + "\n"));
  REQUIRE(test::wait_until([&] { return bus_counter(*servers[0], "in flight") >= lost; }, 2s));
  redis.stop(SIGKILL);
  redis.start();
  for (auto& s : servers) REQUIRE(s->wait_log("chat available again", 15s));

  REQUIRE(clients[0].send("c0 after\n"));
  std::vector<std::string> expected{"ERR chat gap " + std::to_string(lost), "c0 after"};
  for (size_t i : {1, 2}) {
    INFO("client " << i);
    CHECK(test::lines(clients[i], 2) == expected);
  }
  // The sender's own instance sees the gap too; the sender gets no copy.
  CHECK(test::lines(clients[0], 1) == std::vector<std::string>{expected[0]});
  CHECK(clients[0].quiet_for(200ms));
  for (auto& s : servers) {
    CHECK(s->wait_log(std::to_string(lost) + " messages from instance"));
    CHECK(bus_counter(*s, "lost") == lost);
  }
}

TEST_CASE("chat bus: a killed bus process is respawned and chat goes on", "[bus][no-valgrind]") {
  Redis redis;
  Server server(bus_args(redis, 3));
  REQUIRE(server.wait_log("chat bus: connected to", 10s));
  long pid = bus_counter(server, "pid");
  REQUIRE(pid > 0);
  kill(static_cast<int>(pid), SIGKILL);
  REQUIRE(server.wait_log("restarting it in", 5s));
  REQUIRE(server.wait_log("chat bus: connected to", 10s, 2));
  CHECK(bus_counter(server, "restarts") == 1);
  // It holds its two Redis connections and nothing of the master's: no
  // listener, no control socket, no pid file.
  long bus = bus_counter(server, "pid");
  REQUIRE(bus != pid);
  auto table = test::socket_table();
  int to_redis = 0;
  for (const auto& [fd, link] : test::open_fds(static_cast<int>(bus))) {
    INFO(fd << " " << link);
    CHECK(link.find(".pid") == std::string::npos);
    unsigned long inode = test::socket_inode(link);
    if (inode == 0) continue;
    auto it = table.find(inode);
    REQUIRE(it != table.end());
    CHECK_FALSE(it->second.listening);
    CHECK(it->second.remote == "127.0.0.1:" + std::to_string(redis.port()));
    ++to_redis;
  }
  CHECK(to_redis == 2);
  auto json = test::run_wsserver(server.same_files({"-s", "status", "--json"})).out;
  CHECK(json.find("\"chat_bus\":{\"url\":\"" + redis.url() + "\",\"state\":\"up\"") != std::string::npos);
  CHECK(json.find("\"restarts\":1}") != std::string::npos);
  Client a = Client::connect(server.port()), b = Client::connect(server.port());
  REQUIRE(test::wait_until([&] { return busy_workers(server) >= 2; }, 10s));
  REQUIRE(a.send("hello again\n"));
  CHECK(test::lines(b, 1) == std::vector<std::string>{"hello again"});
}

TEST_CASE("chat bus: -s broadcast without a bus reaches this instance's chat clients", "[bus]") {
  Server server({"--service", "chat", "--reply_terminator", "lf", "--workers", "3", "--max_message", "32"});
  Client a = Client::connect(server.port()), b = Client::connect(server.port());
  REQUIRE(test::wait_until([&] { return busy_workers(server) >= 2; }, 10s));
  // Each hears the other: both have joined the ring (busy comes a moment before).
  REQUIRE(a.send("from a\n"));
  REQUIRE(test::lines(b, 1) == std::vector<std::string>{"from a"});
  REQUIRE(b.send("from b\n"));
  REQUIRE(test::lines(a, 1) == std::vector<std::string>{"from b"});
  auto sent = test::run_wsserver(server.same_files({"-s", "broadcast", "from the operator"}));
  CHECK(sent.status == 0);
  CHECK(test::lines(a, 1) == std::vector<std::string>{"from the operator"});
  CHECK(test::lines(b, 1) == std::vector<std::string>{"from the operator"});
  // Bounded by the master's max_message (here given on its command line
  // only), and checked before sending against the one -s is given.
  auto long_one = test::run_wsserver(server.same_files({"-s", "broadcast", std::string(33, 'x')}));
  CHECK(long_one.status == 1);
  CHECK(long_one.err.find("ERR message too long") != std::string::npos);
  long_one = test::run_wsserver(server.same_files({"--max_message", "32", "-s", "broadcast", std::string(33, 'x')}));
  CHECK(long_one.status == 64);
  CHECK(long_one.err.find("max_message") != std::string::npos);
  CHECK(test::run_wsserver(server.same_files({"-s", "broadcast", "two\nlines"})).status == 64);
  CHECK(test::run_wsserver(server.same_files({"-s", "broadcast"})).status == 64);
  CHECK(a.quiet_for(200ms));
  auto json = test::run_wsserver(server.same_files({"-s", "status", "--json"})).out;
  CHECK(json.find("\"chat_bus\":null}") != std::string::npos);
  CHECK(status_text(server).find("chat bus") == std::string::npos);
}

TEST_CASE("chat bus: a bad chat_bus is a config error naming the key", "[bus]") {
  for (const char* bad : {"http://127.0.0.1:6379", "redis://127.0.0.1", "redis://127.0.0.1:6379/a*b"}) {
    auto r = test::run_wsserver({"-t", "--service", "chat", "--chat_bus", bad});
    INFO(bad);
    CHECK(r.status == 64);
    CHECK(r.err.find("chat_bus") != std::string::npos);
  }
  test::TempDir dir;
  std::string conf = dir.write("wsserver.conf", "service = chat\nchat_bus = \"redis://127.0.0.1\"\n");
  auto r = test::run_wsserver({"-t", "-c", conf});
  CHECK(r.status == 78);
  CHECK(r.err.find("wsserver.conf:2: chat_bus") != std::string::npos);
  r = test::run_wsserver({"-t", "--chat_bus", "redis://127.0.0.1:6379"});
  CHECK(r.status == 64);
  CHECK(r.err.find("service = chat") != std::string::npos);
  CHECK(test::run_wsserver({"-t", "--service", "chat", "--chat_bus", "redis://localhost:6379/room"}).status == 0);
}
