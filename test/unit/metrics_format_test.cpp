// The metrics' text (metrics.hpp): the exposition format's rules, label
// escaping, and the endpoint's answers (metrics_server.hpp) to each kind of
// request head; the saturating totals under them (scoreboard.hpp).
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "wsserver/close_reason.hpp"
#include "wsserver/metrics.hpp"
#include "wsserver/metrics_server.hpp"
#include "wsserver/utf8.hpp"

namespace {

ws::MetricsSnapshot sample() {
  ws::MetricsSnapshot m;
  m.status.version = "0.1.0";
  m.status.started_ms = 1795979045123;
  m.status.now_ms = m.status.started_ms + 61500;
  m.status.generation = 3;
  m.status.queues = {{"127.0.0.1:9000", 2, 7}, {"unix:/run/ws \"x\"\n\xff.sock", -1, 0}, {"[::1]:9000", 0, 1}};
  m.status.workers = {{1, ws::WorkerState::idle, 3, 0, "", 0}, {2, ws::WorkerState::busy, 3, 5, "x", 0},
                      {3, ws::WorkerState::busy, 3, 1, "y", 0}};
  m.status.totals.clients = 10;
  m.status.totals.messages = 42;
  m.status.totals.closes[static_cast<size_t>(ws::CloseReason::idle_timeout)] = 4;
  m.status.totals.notices[static_cast<size_t>(ws::Notice::too_many_clients)] = 2;
  m.max_workers = 256;
  m.master.deaths_by_signal = 1;
  m.master.reloads_refused = 2;
  m.status.bus.url = "redis://127.0.0.1:6379/wsserver";
  m.status.bus.state = ws::BusState::up;
  m.status.bus.published = 12;
  m.status.bus.lost = 3;
  m.status.bus.outages = 1;
  return m;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string name_of(const std::string& sample_line) { return sample_line.substr(0, sample_line.find_first_of("{ ")); }

}  // namespace

TEST_CASE("metrics format: each family once, HELP and TYPE before its samples, counters end in _total") {
  std::string text = ws::render_metrics(sample());
  REQUIRE(text.back() == '\n');
  CHECK(ws::valid_utf8(text));
  std::set<std::string> seen;
  std::map<std::string, std::string> types;
  std::string current;
  for (const auto& line : lines_of(text)) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      CHECK(seen.insert(current).second);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      CHECK(rest.substr(0, rest.find(' ')) == current);
      types[current] = rest.substr(rest.find(' ') + 1);
    } else {
      CHECK(name_of(line) == current);
      CHECK(line.find('\n') == std::string::npos);
    }
  }
  for (const auto& [name, type] : types) {
    INFO(name);
    CHECK((type == "counter") == name.ends_with("_total"));
  }
}

TEST_CASE("metrics format: the snapshot's values, labels escaped") {
  std::string text = ws::render_metrics(sample());
  for (const char* line : {"wsserver_build_info{version=\"0.1.0\"} 1", "wsserver_uptime_seconds 61.500",
                           "wsserver_generation 3", "wsserver_workers{state=\"busy\"} 2",
                           "wsserver_workers{state=\"idle\"} 1", "wsserver_workers{state=\"starting\"} 0",
                           "wsserver_max_workers 256", "wsserver_listener_queue_length{listener=\"127.0.0.1:9000\"} 2",
                           "wsserver_listener_queue_peak{listener=\"127.0.0.1:9000\"} 7",
                           "wsserver_listener_queue_peak{listener=\"[::1]:9000\"} 1",
                           "wsserver_connections_accepted_total 12",
                           "wsserver_connections_closed_total{reason=\"idle-timeout\"} 4",
                           "wsserver_connections_closed_total{reason=\"too-many-clients\"} 2",
                           "wsserver_messages_total 42", "wsserver_notices_total{kind=\"too_many_clients\"} 2",
                           "wsserver_worker_deaths_total{cause=\"signal\"} 1",
                           "wsserver_reloads_total{result=\"refused\"} 2"}) {
    INFO(line);
    CHECK(text.find(std::string("\n") + line + "\n") != std::string::npos);
  }
  CHECK(text.find("unix:") == std::string::npos);  // no queue the kernel does not count
  CHECK(ws::metrics_label_value("a\\b\"c\nd\xff\xc3\xa9") == "a\\\\b\\\"c\\nd\xef\xbf\xbd\xc3\xa9");
}

TEST_CASE("metrics format: the endpoint answers GET /metrics, and 404, 405, 400 or 431 otherwise") {
  auto answer = [](const std::string& bytes) {
    ws::HttpHeadReader head;
    head.feed(bytes);
    return ws::metrics_answer(head, [] { return std::string("x 1\n"); });
  };
  std::string ok = answer("GET /metrics?name[]=x HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(ok == "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: 4\r\nConnection: close\r\n\r\nx 1\n");
  CHECK_THAT(answer("GET /metrics/ HTTP/1.1\r\n\r\n"), Catch::StartsWith("HTTP/1.1 404 Not Found\r\n"));
  CHECK_THAT(answer("HEAD /metrics HTTP/1.1\r\n\r\n"),
             Catch::StartsWith("HTTP/1.1 405 Method Not Allowed\r\n") && Catch::Contains("\r\nAllow: GET\r\n"));
  CHECK_THAT(answer("GET metrics HTTP/1.1\r\n\r\n"), Catch::StartsWith("HTTP/1.1 400 "));
  CHECK_THAT(answer("GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a')), Catch::StartsWith("HTTP/1.1 431 "));
}

TEST_CASE("metrics format: totals add with saturation and raise_to never lowers") {
  ws::Counters a, b;
  a.messages = UINT64_MAX - 1;
  b.messages = 5;
  b.notices[0] = 3;
  a += b;
  CHECK(a.messages == UINT64_MAX);
  CHECK(a.notices[0] == 3);
  ws::Counters shown;
  shown.raise_to(a);
  ws::Counters lower;  // a worker's slot read as zeros, say
  shown.raise_to(lower);
  CHECK(shown.messages == UINT64_MAX);
  CHECK(shown.notices[0] == 3);
}

TEST_CASE("metrics format: the chat bus's state and counters, only with a chat bus") {
  ws::MetricsSnapshot m = sample();
  std::string text = ws::render_metrics(m);
  CHECK_THAT(text, Catch::Contains("\nwsserver_chat_bus_up 1\n"));
  CHECK_THAT(text, Catch::Contains("\nwsserver_chat_bus_messages_total{kind=\"published\"} 12\n"));
  CHECK_THAT(text, Catch::Contains("\nwsserver_chat_bus_messages_total{kind=\"lost\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("\nwsserver_chat_bus_outages_total 1\n"));
  m.status.bus.state = ws::BusState::down;
  CHECK_THAT(ws::render_metrics(m), Catch::Contains("\nwsserver_chat_bus_up 0\n"));
  m.status.bus = {};
  CHECK_THAT(ws::render_metrics(m), !Catch::Contains("wsserver_chat_bus"));
}
