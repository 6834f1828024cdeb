// metrics_listen and access_log_format (SPEC section 14): the master's
// Prometheus endpoint, checked by promtool, with counters that move as
// clients come, a worker dies and the config reloads; metrics clients that
// stall, flood or trickle, which must never delay the master's supervision;
// and JSON access lines that a real JSON parser reads, whatever hostile
// bytes clients sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "../support/client.hpp"
#include "../support/json_check.hpp"
#include "../support/proc_fds.hpp"
#include "../support/program.hpp"
#include "../support/server.hpp"
#include "../support/tempdir.hpp"
#include "../support/wait.hpp"
#include "wsserver/fd.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::run_wsserver;
using test::Server;

namespace {

const std::string scrape = "GET /metrics HTTP/1.1\r\nHost: wsserver\r\n\r\n";

// The endpoint's port, from the master's "metrics on http://HOST:PORT/metrics".
uint16_t metrics_port(const Server& server) {
  std::string log = server.log();
  size_t at = log.find("metrics on http://");
  REQUIRE(at != std::string::npos);
  size_t end = log.find("/metrics", at + 18);
  std::string address = log.substr(at + 18, end - at - 18);
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

std::string http(uint16_t port, const std::string& request) {
  Client c = Client::connect(port);
  REQUIRE(c.send(request));
  auto answer = c.read_to_eof(5s);
  REQUIRE(answer);
  return *answer;
}

std::string body_of(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

std::string metrics(uint16_t port) {
  std::string answer = http(port, scrape);
  REQUIRE_THAT(answer, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  return body_of(answer);
}

// The value of one series ("wsserver_reloads_total{result=\"applied\"}"), or -1.
double value(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// Waits until the series reaches `at_least` in a fresh scrape.
bool reaches(uint16_t port, const std::string& series, double at_least) {
  return test::wait_until([&] { return value(metrics(port), series) >= at_least; }, 5s);
}

// A TCP port on an IPv4 loopback address that this test listens on, so
// that wsserver cannot bind it; `address` is "127.0.0.x:PORT".
struct HeldPort {
  explicit HeldPort(uint32_t ip) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(ip);
    socklen_t length = sizeof in;
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) == 0);
    REQUIRE(listen(fd.get(), 1) == 0);
    REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&in), &length) == 0);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    address = std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  ws::Fd fd{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::string address;
};

// Runs a shell command line with a deadline; its status.
test::ProgramResult shell(const std::string& command) { return test::run_program({"/bin/sh", "-c", command}, 20s); }

}  // namespace

TEST_CASE("metrics: GET /metrics is the text format that promtool accepts; other paths 404, methods 405") {
  Server server({"--workers", "2", "--metrics_listen", "127.0.0.1:0"});
  REQUIRE(server.wait_workers(2));
  uint16_t port = metrics_port(server);
  std::string answer = http(port, scrape);
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 200 OK\r\n") &&
                         Catch::Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") &&
                         Catch::Contains("Connection: close\r\n"));
  std::string body = body_of(answer);
  CHECK(answer.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(value(body, "wsserver_workers{state=\"idle\"}") == 2);
  CHECK(value(body, "wsserver_max_workers") == 256);
  CHECK(value(body, "wsserver_listener_queue_length{listener=\"" + server.addresses()[0] + "\"}") == 0);
  CHECK_THAT(body, Catch::Contains("wsserver_build_info{version=\"0."));

  test::TempDir dir;
  std::string file = dir.write("metrics.txt", body);
  auto check = shell("promtool check metrics < " + file);
  INFO(check.out << check.err);
  CHECK(check.status == 0);
  CHECK(check.out + check.err == "");  // no lint complaint either

  CHECK_THAT(http(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"), Catch::StartsWith("HTTP/1.1 404 "));
  CHECK_THAT(http(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Catch::StartsWith("HTTP/1.1 200 "));
  std::string post = http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  CHECK_THAT(post, Catch::StartsWith("HTTP/1.1 405 ") && Catch::Contains("Allow: GET\r\n"));
  CHECK_THAT(http(port, "GARBAGE\r\n\r\n"), Catch::StartsWith("HTTP/1.1 400 "));
}

TEST_CASE("metrics: counters move with clients, a killed worker and reloads, and survive the reloads") {
  // listen given: Server sees "listen" in the config and adds none of its own.
  const std::string config = "listen = [\"127.0.0.1:0\"]\nworkers = 2\nmetrics_listen = 127.0.0.1:0\n";
  Server server({}, config);
  REQUIRE(server.wait_workers(2));
  uint16_t port = metrics_port(server);
  CHECK(value(metrics(port), "wsserver_messages_total") == 0);

  Client c = Client::connect(server.port());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.send("a b\n"));
    REQUIRE(c.reply() == "ab");
  }
  REQUIRE(c.send("exit\n"));
  CHECK(c.closed_within(5s));
  CHECK(reaches(port, "wsserver_connections_closed_total{reason=\"exit\"}", 1));
  std::string m = metrics(port);
  CHECK(value(m, "wsserver_connections_accepted_total") == 1);
  CHECK(value(m, "wsserver_messages_total") == 3);  // exit is not counted
  CHECK(value(m, "wsserver_received_bytes_total") == 17);
  CHECK(value(m, "wsserver_sent_bytes_total") == 9);

  int victim = server.workers().at(0);
  REQUIRE(kill(victim, SIGKILL) == 0);
  CHECK(reaches(port, "wsserver_worker_deaths_total{cause=\"signal\"}", 1));
  CHECK(value(metrics(port), "wsserver_worker_deaths_total{cause=\"exit_status\"}") == 0);

  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 2"));
  CHECK(reaches(port, "wsserver_reloads_total{result=\"applied\"}", 1));
  server.dir().write("wsserver.conf", config + "bogus = 1\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reload failed, nothing changed"));
  CHECK(reaches(port, "wsserver_reloads_total{result=\"refused\"}", 1));

  // The old generation's workers are gone; their counts are not.
  REQUIRE(test::wait_until([&] { return server.log_count("exited with status 0") >= 1; }));
  m = metrics(port);
  CHECK(value(m, "wsserver_generation") == 2);
  CHECK(value(m, "wsserver_messages_total") == 3);
  CHECK(value(m, "wsserver_connections_closed_total{reason=\"exit\"}") == 1);
  CHECK(value(m, "wsserver_worker_deaths_total{cause=\"signal\"}") == 1);
  CHECK(server.log_count("metrics on http://") == 1);  // an unchanged metrics_listen keeps its socket

  test::TempDir dir;
  auto check = shell("promtool check metrics < " + dir.write("metrics.txt", m));
  INFO(check.out << check.err);
  CHECK(check.status == 0);
}

TEST_CASE("metrics: a reload moves the endpoint to a new metrics_listen, or changes nothing if it cannot bind it") {
  // listen given: Server sees "listen" in the config and adds none of its own.
  const std::string base = "listen = [\"127.0.0.1:0\"]\nworkers = 1\n";
  Server server({}, base + "metrics_listen = 127.0.0.1:0\n");
  REQUIRE(server.wait_workers(1));
  uint16_t old_port = metrics_port(server);
  // A port this test holds, so that the first new address cannot be bound.
  HeldPort held(0x7f000002);  // 127.0.0.2
  server.dir().write("wsserver.conf", base + "metrics_listen = " + held.address + "\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reload failed, nothing changed: metrics_listen: cannot bind"));
  CHECK(value(metrics(old_port), "wsserver_reloads_total{result=\"refused\"}") == 1);

  server.dir().write("wsserver.conf", base + "metrics_listen = 127.0.0.2:0\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reloaded: generation 2"));
  CHECK(server.log_count("no more metrics on 127.0.0.1:" + std::to_string(old_port)) == 1);
  std::string log = server.log();
  size_t at = log.find("metrics on http://127.0.0.2:");
  REQUIRE(at != std::string::npos);
  auto new_port = static_cast<uint16_t>(std::stoi(log.substr(at + 28)));
  Client moved = Client::connect(new_port, "127.0.0.2");
  REQUIRE(moved.send(scrape));
  auto answer = moved.read_to_eof(5s);
  REQUIRE(answer);
  CHECK(value(body_of(*answer), "wsserver_reloads_total{result=\"applied\"}") == 1);
  CHECK_FALSE(Client::try_connect(old_port));
}

// [no-valgrind]: the upgrade execs the binary the master was started
// from, which under valgrind is valgrind itself.
TEST_CASE("metrics: a binary upgrade hands the metrics port to the new master, or takes it back if it fails",
          "[no-valgrind]") {
  // A port found free: with port 0 the new master would bind another one.
  std::string address = HeldPort(INADDR_LOOPBACK).address;
  uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  Server server({"--workers", "1", "--metrics_listen", address});
  REQUIRE(server.wait_workers(1));
  CHECK(value(metrics(port), "wsserver_generation") == 1);

  server.dir().write("wsserver.conf", "service = nonsense\n");
  // Asked without the broken file; the new master reads it and fails.
  auto failed = run_wsserver({"-c", "/dev/null", "--pid_file", server.pid_file(), "-s", "upgrade"}, 60s);
  CHECK(failed.status == 1);
  REQUIRE(server.wait_log("upgrade failed, serving on"));
  CHECK(server.log_count("metrics on http://" + address + "/metrics") == 2);  // taken back
  CHECK(value(metrics(port), "wsserver_generation") == 1);

  server.dir().write("wsserver.conf", "");
  auto upgraded = run_wsserver(server.same_files({"-s", "upgrade"}), 60s);
  INFO(upgraded.out << upgraded.err << server.log());
  REQUIRE(upgraded.status == 0);
  CHECK(server.wait_exit(20s) == 0);  // the old master is gone: the new one answers
  std::string m = metrics(port);
  CHECK(value(m, "wsserver_uptime_seconds") >= 0);
  CHECK(value(m, "wsserver_workers{state=\"idle\"}") == 1);
}

// [no-valgrind]: "at once" is a time limit.
TEST_CASE("metrics: silent, huge and byte-by-byte metrics clients never delay supervision", "[no-valgrind]") {
  Server server({"--workers", "2", "--metrics_listen", "127.0.0.1:0"});
  REQUIRE(server.wait_workers(2));
  uint16_t port = metrics_port(server);

  Client silent = Client::connect(port);
  Client stalled = Client::connect(port);
  REQUIRE(stalled.send("GET /metr"));  // and not a byte more
  std::string trickled;
  std::thread trickle([&] {
    Client slow = Client::connect(port);
    for (char byte : scrape) {
      if (!slow.send(std::string(1, byte))) return;
      std::this_thread::sleep_for(50ms);
    }
    trickled = slow.read_to_eof(5s).value_or("");
  });
  Client huge = Client::connect(port);
  std::string flood = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(256 * 1024, 'a');
  std::thread flooding([&] { huge.send(flood); });

  std::this_thread::sleep_for(100ms);  // the three are connected and at work
  std::vector<int> before = server.workers();
  REQUIRE(before.size() == 2);
  auto killed_at = test::Clock::now();
  REQUIRE(kill(before[0], SIGKILL) == 0);
  bool replaced = test::wait_until([&] {
    auto now = server.workers();
    return now.size() == 2 && std::find(now.begin(), now.end(), before[0]) == now.end();
  }, 5s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(test::Clock::now() - killed_at);
  CHECK(replaced);
  INFO("replaced after " << took.count() << " ms");
  CHECK(took < 500ms);
  // Served meanwhile, too.
  CHECK(value(metrics(port), "wsserver_worker_deaths_total{cause=\"signal\"}") == 1);

  flooding.join();
  auto flood_answer = huge.read_to_eof(5s);
  REQUIRE(flood_answer);
  CHECK_THAT(*flood_answer, Catch::StartsWith("HTTP/1.1 431 "));
  trickle.join();
  CHECK_THAT(trickled, Catch::StartsWith("HTTP/1.1 200 OK"));
  CHECK(silent.closed_within(7s));  // 5 s from accept, then closed unanswered
  CHECK(stalled.closed_within(1s));
}

TEST_CASE("metrics: a worker holds neither the metrics socket nor a scraper's connection") {
  Server server({"--workers", "1", "--metrics_listen", "127.0.0.1:0"});
  REQUIRE(server.wait_workers(1));
  uint16_t port = metrics_port(server);
  Client stalled = Client::connect(port);
  REQUIRE(stalled.send("GET /m"));
  // A scrape answered after it: the master has accepted the stalled one too.
  metrics(port);
  // Forked while the master holds both: the replacement of a killed worker.
  int first = server.workers().at(0);
  REQUIRE(kill(first, SIGKILL) == 0);
  REQUIRE(test::wait_until([&] {
    auto now = server.workers();
    return now.size() == 1 && now[0] != first;
  }));
  REQUIRE(server.wait_workers(1));
  auto sockets = test::socket_table();
  std::string suffix = ":" + std::to_string(port);
  for (const auto& [fd, link] : test::open_fds(server.workers().at(0))) {
    auto it = sockets.find(test::socket_inode(link));
    if (it == sockets.end()) continue;
    INFO("worker fd " << fd << " " << it->second.local);
    CHECK_FALSE(it->second.local.ends_with(suffix));
  }
}

TEST_CASE("metrics: a metrics_listen that cannot be bound stops the start; a bad one is a config error") {
  HeldPort held(INADDR_LOOPBACK);
  const std::string& busy = held.address;
  test::TempDir dir;
  auto r = test::run_wsserver({"-c", "/dev/null", "--listen", "127.0.0.1:0", "--pid_file", dir.file("w.pid"),
                               "--metrics_listen", busy});
  CHECK(r.status == 71);
  CHECK_THAT(r.err, Catch::Contains("metrics_listen: cannot bind " + busy));
  auto bad = test::run_wsserver({"-t", "-c", "/dev/null", "--metrics_listen", "unix:/tmp/metrics.sock"});
  CHECK(bad.status == 64);
  CHECK_THAT(bad.err, Catch::Contains("metrics_listen"));
}

namespace {

// What hostile clients send: quotes, backslashes, control bytes, invalid
// UTF-8 and whole forged JSON lines, as messages and as AUTH secrets.
std::vector<std::string> hostile_inputs() {
  std::vector<std::string> inputs = {
      "\"", "\\", "\\\"", std::string("\x01\x02\x1b[31m\x7f", 6), "\xff\xfe\xfd", "\xc0\xaf", "\xed\xa0\x80",
      "\xe2\x80\xa8\xe2\x80\xa9", "\",\"reason\":\"forged\"}\r{\"client\":\"x", "caf\xc3\xa9 \xe2\x82"};
  // And bytes at random (seeded: a failure can be replayed).
  std::mt19937 random(1717);
  for (int i = 0; i < 6; ++i) {
    std::string bytes(1 + random() % 30, '\0');
    for (auto& b : bytes) b = static_cast<char>(random() % 256);
    std::replace(bytes.begin(), bytes.end(), '\n', 'n');  // one message each
    std::replace(bytes.begin(), bytes.end(), '\0', '0');
    inputs.push_back(bytes);
  }
  return inputs;
}

}  // namespace

TEST_CASE("metrics: JSON access lines parse with python3 -m json.tool whatever hostile clients send") {
  test::TempDir scratch;
  std::string secret = scratch.write("secret", "right secret\n", 0600);
  Server server({"--workers", "8", "--auth_file", secret, "--auth_max_failures", "0", "--access_log",
                 "{dir}/access.log", "--access_log_format", "json", "--metrics_listen", "127.0.0.1:0"});
  REQUIRE(server.wait_workers(8));
  auto inputs = hostile_inputs();
  // Each client: one message before AUTH, one AUTH with a wrong secret, then
  // it leaves. Eight at a time, for the second each failed AUTH costs.
  size_t clients = 0;
  for (size_t first = 0; first < inputs.size(); first += 8) {
    std::vector<Client> batch;
    for (size_t i = first; i < std::min(first + 8, inputs.size()); ++i) {
      batch.push_back(Client::connect(server.port()));
      REQUIRE(batch.back().send(inputs[i] + "\n"));
      REQUIRE(batch.back().send("AUTH " + inputs[i] + "\n"));
    }
    for (auto& c : batch) {
      CHECK(c.reply(5s) == "ERR authentication required");
      CHECK(c.reply(5s) == "ERR authentication failed");
      c.close();
    }
    clients += batch.size();
  }
  std::string log_path = server.dir().file("access.log");
  auto lines = [&] {
    std::string text = test::read_file(log_path);
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  };
  REQUIRE(test::wait_until([&] { return lines() >= clients; }));
  CHECK(lines() == clients);  // nothing forged a line

  auto parsed = shell("python3 -m json.tool --json-lines " + log_path);
  INFO(parsed.err);
  CHECK(parsed.status == 0);
  std::istringstream text(test::read_file(log_path));
  for (std::string line; std::getline(text, line);) {
    auto fields = test::read_flat_json(line);
    REQUIRE(fields);
    CHECK(fields->size() == 8);
    CHECK(fields->back().second != "forged");
  }
  uint16_t port = metrics_port(server);
  CHECK(reaches(port, "wsserver_notices_total{kind=\"auth_failed\"}", static_cast<double>(clients)));
  CHECK(value(metrics(port), "wsserver_notices_total{kind=\"auth_required\"}") == static_cast<double>(clients));
}
