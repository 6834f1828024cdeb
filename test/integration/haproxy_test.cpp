// wsserver behind Debian's haproxy (SPEC 8 and 9, issue 13): two or three
// instances on proxy: listeners, HAProxy in front with send-proxy-v2 and
// the example's health check, clients from distinct 127.0.0.x addresses.
// The shipped example itself must pass `haproxy -c`.
// [no-valgrind]: HAProxy checks every 100 ms with a 1 s timeout and marks
// a server down after two failures; servers 20 times slower would flap.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <regex>
#include <set>

#include "../support/client.hpp"
#include "../support/haproxy.hpp"
#include "../support/program.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Haproxy;
using test::Server;

namespace {

std::vector<std::string> instance_args(std::vector<std::string> extra = {}, uint16_t port = 0) {
  std::vector<std::string> args{"--listen",     "proxy:127.0.0.1:" + std::to_string(port),
                                "--workers",    "3",
                                "--max_spare",  "10",
                                "--access_log", "{dir}/access.log",
                                "--idle_timeout", "30"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string address(const Server& s) { return "127.0.0.1:" + std::to_string(s.port()); }

test::HaproxyOptions in_front_of(const std::vector<const Server*>& servers) {
  test::HaproxyOptions o;
  for (const Server* s : servers) o.servers.push_back(address(*s));
  return o;
}

// Through HAProxy from `source`, served a first message.
std::optional<Client> served_client(const Haproxy& h, const std::string& source, const std::string& text = "a b c\n") {
  auto c = Client::try_connect(h.port(), "127.0.0.1", source);
  if (!c || !c->send(text) || c->reply(5s) != "abc") return std::nullopt;
  return c;
}

std::string access_log(const Server& s) { return test::read_file(s.dir().file("access.log")); }

std::string status_of(const Server& s) { return test::run_wsserver(s.same_files({"-s", "status"})).out; }

bool both_up(const Haproxy& h, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!h.wait_state(i, "UP")) return false;
  return true;
}

// Which instance serves a client now, by its address in -s status.
int serving(const std::vector<const Server*>& servers, const std::string& source) {
  for (size_t i = 0; i < servers.size(); ++i)
    if (status_of(*servers[i]).find(" " + source + ":") != std::string::npos) return static_cast<int>(i);
  return -1;
}

}  // namespace

TEST_CASE("the example HAProxy config is valid for haproxy 2.6", "[haproxy][no-valgrind]") {
  test::TempDir dir;
  std::string pem = test::make_certificate(dir);
  std::string example = test::read_file("etc/haproxy/wsserver.cfg");
  REQUIRE_THAT(example, Catch::Contains("send-proxy-v2") && Catch::Contains("balance leastconn") &&
                            Catch::Contains("ssl crt /etc/haproxy/certs/wsserver.pem") &&
                            Catch::Contains("tcp-check expect"));
  // Its paths, made this test's: the certificate must exist for -c.
  example = std::regex_replace(example, std::regex("/etc/haproxy/certs/wsserver.pem"), pem);
  example = std::regex_replace(example, std::regex("/run/haproxy/"), dir.path() + "/");
  std::string cfg = dir.write("wsserver.cfg", example);
  auto r = test::run_program({"/usr/sbin/haproxy", "-c", "-f", cfg}, 20s);
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out + r.err, Catch::Contains("Configuration file is valid"));
}

TEST_CASE("the example's health check gets the strip reply it expects", "[haproxy][no-valgrind]") {
  // The check line and expected bytes of etc/haproxy/wsserver.cfg, against
  // a real instance: it comes up, and a wrong expectation keeps it down.
  Server ws(instance_args());
  std::string example = test::read_file("etc/haproxy/wsserver.cfg");
  test::HaproxyOptions o = in_front_of({&ws});
  std::smatch expect;
  REQUIRE(std::regex_search(example, expect, std::regex("tcp-check expect binary ([0-9a-f]+)")));
  o.check_reply_hex = expect[1];
  Haproxy good(o);
  CHECK(good.wait_state(0, "UP"));
  o.check_reply_hex = "6865616c746800";  // "health\0"
  Haproxy bad(o);
  CHECK(bad.wait_state(0, "DOWN"));
}

TEST_CASE("through HAProxy each client's own address reaches the access log and -s status", "[haproxy][no-valgrind]") {
  Server a(instance_args()), b(instance_args());
  Haproxy h(in_front_of({&a, &b}));
  REQUIRE(both_up(h, 2));
  std::vector<Client> clients;
  std::vector<std::string> sources{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
  for (const auto& s : sources) {
    auto c = served_client(h, s);
    REQUIRE(c);
    clients.push_back(std::move(*c));
  }
  // leastconn spreads four clients over both; each shows under its own address.
  std::set<int> used;
  for (const auto& s : sources) {
    int at = serving({&a, &b}, s);
    INFO(s);
    CHECK(at >= 0);
    used.insert(at);
  }
  CHECK(used.size() == 2);
  for (auto& c : clients) c.send("exit\n");
  CHECK(test::wait_until([&] {
    std::string logs = access_log(a) + access_log(b);
    for (const auto& s : sources)
      if (logs.find(" " + s + ":") == std::string::npos) return false;
    return true;
  }));
  std::string logs = access_log(a) + access_log(b);
  INFO(logs);
  // The balancer's own address appears only for its health checks (LOCAL).
  CHECK(std::regex_search(logs, std::regex(" 127\\.0\\.0\\.2:[0-9]+ [0-9]+ [0-9.]+ 1 [0-9]+ [0-9]+ exit\n")));
}

TEST_CASE("deny on a client's own address works through the balancer", "[haproxy][no-valgrind]") {
  Server a(instance_args({"--deny", "127.0.0.3"})), b(instance_args({"--deny", "127.0.0.3"}));
  Haproxy h(in_front_of({&a, &b}));
  REQUIRE(both_up(h, 2));
  for (int i = 0; i < 4; ++i) {
    auto denied = Client::try_connect(h.port(), "127.0.0.1", "127.0.0.3");
    REQUIRE(denied);
    denied->send("hello\n");
    CHECK(denied->read_to_eof(5s) == "");
    CHECK(served_client(h, "127.0.0.2"));
  }
  CHECK(test::wait_until([&] {
    return std::regex_search(access_log(a) + access_log(b), std::regex(" 127\\.0\\.0\\.3:[0-9]+ .* refused\n"));
  }));
  CHECK_THAT(a.log() + b.log(), Catch::Contains("refused 127.0.0.3:"));
  // Health checks kept both up: a refusal is the client's, not the host's.
  CHECK(h.server_state(0).rfind("UP", 0) == 0);
  CHECK(h.server_state(1).rfind("UP", 0) == 0);
}

TEST_CASE("max_per_ip counts each client's own address through the balancer", "[haproxy][no-valgrind]") {
  // Every connection comes from HAProxy's 127.0.0.1; the limit still
  // holds per client.
  Server a(instance_args({"--max_per_ip", "1"}));
  Haproxy h(in_front_of({&a}));
  REQUIRE(h.wait_state(0, "UP"));
  auto first = served_client(h, "127.0.0.2");
  REQUIRE(first);
  auto second = Client::try_connect(h.port(), "127.0.0.1", "127.0.0.2");
  REQUIRE(second);
  second->send("again\n");
  CHECK(second->reply(5s) == "ERR too many connections from your address");
  CHECK(second->closed_within(5s));
  CHECK(served_client(h, "127.0.0.3"));
  CHECK(test::wait_until([&] { return access_log(a).find(" per-ip-limit\n") != std::string::npos; }));
}

TEST_CASE("a gracefully stopping instance goes down in HAProxy, its clients undisturbed, and comes back up",
          "[haproxy][no-valgrind]") {
  auto a = std::make_unique<Server>(instance_args({"--graceful_timeout", "30"}));
  Server b(instance_args());
  uint16_t a_port = a->port();
  Haproxy h(in_front_of({a.get(), &b}));
  REQUIRE(both_up(h, 2));
  // Clients until one sits on a.
  std::vector<Client> on_a;
  for (int i = 2; i < 10 && on_a.size() < 2; ++i) {
    std::string source = "127.0.0." + std::to_string(i);
    auto c = served_client(h, source);
    REQUIRE(c);
    if (serving({a.get(), &b}, source) == 0) on_a.push_back(std::move(*c));
  }
  REQUIRE(on_a.size() == 2);
  a->signal(SIGTERM);
  // New clients, before HAProxy has seen the stop and after: every one
  // served (a connect a refuses is tried again on b).
  for (int i = 20; i < 24; ++i) CHECK(served_client(h, "127.0.0." + std::to_string(i)));
  CHECK(h.wait_state(0, "DOWN", 10s));
  for (int i = 24; i < 34; ++i) {
    std::string source = "127.0.0." + std::to_string(i);
    auto c = served_client(h, source);
    CHECK(c);
    CHECK(serving({&b}, source) == 0);
  }
  // a's clients talk on, then leave; a stops as asked.
  for (auto& c : on_a) {
    CHECK(c.send("still here\n"));
    CHECK(c.reply(5s) == "stillhere");
    c.send("exit\n");
    CHECK(c.closed_within(5s));
  }
  CHECK(a->wait_exit(10s) == 0);
  CHECK_THAT(access_log(*a), !Catch::Contains(" shutdown\n"));
  // Back on the same port: HAProxy sees it up again and sends it clients.
  a = std::make_unique<Server>(instance_args({}, a_port));
  CHECK(h.wait_state(0, "UP", 10s));
  // leastconn: of clients held at once, about half go to each.
  std::vector<Client> held;
  for (int i = 40; i < 46; ++i) {
    auto c = served_client(h, "127.0.0." + std::to_string(i));
    REQUIRE(c);
    held.push_back(std::move(*c));
  }
  int on_new_a = 0;
  for (int i = 40; i < 46; ++i) on_new_a += serving({a.get(), &b}, "127.0.0." + std::to_string(i)) == 0;
  INFO(status_of(*a) << status_of(b) << h.log());
  CHECK(on_new_a >= 2);
}

TEST_CASE("an instance killed with SIGKILL: new clients go to the others", "[haproxy][no-valgrind]") {
  Server a(instance_args()), b(instance_args()), c(instance_args());
  Haproxy h(in_front_of({&a, &b, &c}));
  REQUIRE(both_up(h, 3));
  // The whole instance at once, master and workers, as when a host dies.
  kill(-a.pid(), SIGKILL);
  REQUIRE(a.wait_exit(5s));
  // Gone once the last of its processes is: until then the kernel still
  // completes connects to its port, and those clients are cut.
  REQUIRE(test::wait_until([&] { return !Client::try_connect(a.port()); }));
  int served = 0;
  for (int i = 2; i < 14; ++i) served += served_client(h, "127.0.0." + std::to_string(i)).has_value();
  INFO(h.log());
  CHECK(served == 12);
  CHECK(h.wait_state(0, "DOWN", 10s));
  CHECK(h.server_state(1).rfind("UP", 0) == 0);
  CHECK(h.server_state(2).rfind("UP", 0) == 0);
}

TEST_CASE("TLS through HAProxy: a client speaking TLS gets wsserver's replies", "[haproxy][no-valgrind]") {
  Server a(instance_args()), b(instance_args());
  test::HaproxyOptions o = in_front_of({&a, &b});
  o.tls = true;
  Haproxy h(o);
  REQUIRE(both_up(h, 2));
  auto r = test::tls_exchange(h.tls_port(), h.certificate(), "hello tls world\n a\tb \nexit\n", "127.0.0.7");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == std::string("hellotlsworld\0ab\0", 17));
  // The client's address, not HAProxy's, in the log of whichever served it.
  CHECK(test::wait_until([&] {
    return std::regex_search(access_log(a) + access_log(b), std::regex(" 127\\.0\\.0\\.7:[0-9]+ [0-9]+ [0-9.]+ 2 .* exit\n"));
  }));
}
