#include "wsserver/metrics.hpp"

#include <cstdio>
#include <utility>
#include <vector>

#include "wsserver/close_reason.hpp"
#include "wsserver/utf8.hpp"

namespace ws {
namespace {

using Labels = std::vector<std::pair<const char*, std::string>>;

// One metric family after another: HELP and TYPE once, then its samples,
// as the format asks (a family's lines together).
class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const Labels& labels, const std::string& value) {
    out_ += name_;
    for (size_t i = 0; i < labels.size(); ++i)
      out_ += (i ? "," : "{") + std::string(labels[i].first) + "=\"" + metrics_label_value(labels[i].second) + "\"";
    out_ += (labels.empty() ? " " : "} ") + value + "\n";
  }
  void sample(const Labels& labels, uint64_t value) { sample(labels, std::to_string(value)); }
  void sample(uint64_t value) { sample({}, value); }
  std::string take() { return std::move(out_); }

 private:
  std::string name_;
  std::string out_;
};

std::string seconds(int64_t ms) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

void render_process(Exposition& e, const MetricsSnapshot& m) {
  const StatusSnapshot& s = m.status;
  e.family("wsserver_build_info", "gauge", "Always 1; the version wsserver was built as, as a label.");
  e.sample({{"version", s.version}}, 1);
  e.family("wsserver_start_time_seconds", "gauge", "When the master started, in seconds since the Unix epoch.");
  e.sample({}, seconds(s.started_ms));
  e.family("wsserver_uptime_seconds", "gauge", "Seconds since the master started.");
  e.sample({}, seconds(s.now_ms - s.started_ms));
  e.family("wsserver_generation", "gauge", "The configuration's generation: 1 at start, one more per reload applied.");
  e.sample(s.generation);
}

void render_pool(Exposition& e, const MetricsSnapshot& m) {
  uint64_t by_state[5] = {};
  for (const auto& w : m.status.workers) ++by_state[static_cast<size_t>(w.state) % 5];
  e.family("wsserver_workers", "gauge", "Worker processes by state.");
  for (WorkerState st : {WorkerState::starting, WorkerState::idle, WorkerState::busy, WorkerState::exiting})
    e.sample({{"state", state_name(st)}}, by_state[static_cast<size_t>(st)]);
  e.family("wsserver_max_workers", "gauge", "The most workers, so the most clients served at once (max_workers).");
  e.sample(static_cast<uint64_t>(m.max_workers));
  e.family("wsserver_listener_queue_length", "gauge", "Connections waiting in a TCP listener's accept queue.");
  for (const auto& q : m.status.queues)
    if (q.length >= 0) e.sample({{"listener", q.listener}}, static_cast<uint64_t>(q.length));
  e.family("wsserver_listener_queue_peak", "gauge", "The longest accept queue seen on a TCP listener since start.");
  for (const auto& q : m.status.queues)
    if (q.length >= 0) e.sample({{"listener", q.listener}}, static_cast<uint64_t>(q.peak));
}

void render_traffic(Exposition& e, const MetricsSnapshot& m) {
  const Counters& t = m.status.totals;
  uint64_t overflow = t.notices[static_cast<size_t>(Notice::too_many_clients)];
  e.family("wsserver_connections_accepted_total", "counter", "Connections accepted, refused ones included.");
  e.sample(t.clients + overflow);
  e.family("wsserver_connections_closed_total", "counter", "Connections closed, by reason (as in the access log).");
  for (size_t i = 0; i < close_reason_count; ++i) e.sample({{"reason", close_reason_name(static_cast<CloseReason>(i))}}, t.closes[i]);
  e.sample({{"reason", "too-many-clients"}}, overflow);
  e.family("wsserver_messages_total", "counter", "Messages received (datagrams included).");
  e.sample(t.messages);
  e.family("wsserver_received_bytes_total", "counter", "Bytes received from clients.");
  e.sample(t.bytes_in);
  e.family("wsserver_sent_bytes_total", "counter", "Bytes sent to clients.");
  e.sample(t.bytes_out);
  e.family("wsserver_notices_total", "counter", "Server notices (ERR lines) sent to clients, by kind.");
  for (size_t i = 0; i < notice_kinds; ++i) e.sample({{"kind", notice_name(static_cast<Notice>(i))}}, t.notices[i]);
  e.family("wsserver_chat_messages_total", "counter", "Chat messages published to every other client.");
  e.sample(t.chat_published);
  e.family("wsserver_chat_deliveries_total", "counter", "Chat messages queued for a receiving client.");
  e.sample(t.chat_delivered);
}

void render_supervision(Exposition& e, const MetricsSnapshot& m) {
  e.family("wsserver_worker_deaths_total", "counter", "Workers that died abnormally, by cause.");
  e.sample({{"cause", "signal"}}, m.master.deaths_by_signal);
  e.sample({{"cause", "exit_status"}}, m.master.deaths_by_exit);
  e.family("wsserver_respawn_backoffs_total", "counter", "Times respawning was delayed because workers kept dying young.");
  e.sample(m.master.respawn_backoffs);
  e.family("wsserver_reloads_total", "counter", "Reloads (SIGHUP), by result.");
  e.sample({{"result", "applied"}}, m.master.reloads_applied);
  e.sample({{"result", "refused"}}, m.master.reloads_refused);
}

// Only with a chat bus (chat_bus); from the bus's counters in shared memory,
// which outlive a restart of the bus process and a reload.
void render_bus(Exposition& e, const MetricsSnapshot& m) {
  const BusSnapshot& b = m.status.bus;
  if (b.url.empty()) return;
  e.family("wsserver_chat_bus_up", "gauge", "1 while the chat bus is connected to Redis, else 0.");
  e.sample(b.state == BusState::up ? 1 : 0);
  e.family("wsserver_chat_bus_messages_total", "counter",
           "Chat bus messages: published (confirmed by Redis), received (delivered to this instance), lost "
           "(found missing and reported as a gap), foreign (not wsserver's, ignored).");
  e.sample({{"kind", "published"}}, b.published);
  e.sample({{"kind", "received"}}, b.received);
  e.sample({{"kind", "lost"}}, b.lost);
  e.sample({{"kind", "foreign"}}, b.foreign);
  e.family("wsserver_chat_bus_in_flight", "gauge", "Messages sent to Redis and not yet confirmed.");
  e.sample(b.in_flight);
  e.family("wsserver_chat_bus_outages_total", "counter", "Times the chat bus lost Redis.");
  e.sample(b.outages);
  e.family("wsserver_chat_bus_restarts_total", "counter", "Times the master restarted the bus process.");
  e.sample(b.restarts);
}

}  // namespace

std::string metrics_label_value(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    size_t n = utf8_char_length(text);
    if (n == 0) out += "\xef\xbf\xbd";  // U+FFFD
    else if (text[0] == '\\') out += "\\\\";
    else if (text[0] == '"') out += "\\\"";
    else if (text[0] == '\n') out += "\\n";
    else out.append(text.substr(0, n));
    text.remove_prefix(n ? n : 1);
  }
  return out;
}

std::string render_metrics(const MetricsSnapshot& snapshot) {
  Exposition e;
  render_process(e, snapshot);
  render_pool(e, snapshot);
  render_traffic(e, snapshot);
  render_supervision(e, snapshot);
  render_bus(e, snapshot);
  return e.take();
}

}  // namespace ws
