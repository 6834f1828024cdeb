#include "wsserver/status.hpp"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "wsserver/json.hpp"

namespace ws {
namespace {

std::string duration(int64_t ms) {
  int64_t s = ms / 1000;
  char buf[64];
  if (s >= 86400)
    snprintf(buf, sizeof buf, "%" PRId64 "d %02" PRId64 "h %02" PRId64 "m", s / 86400, s / 3600 % 24, s / 60 % 60);
  else if (s >= 3600)
    snprintf(buf, sizeof buf, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s", s / 3600, s / 60 % 60, s % 60);
  else if (s >= 60)
    snprintf(buf, sizeof buf, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
  else
    snprintf(buf, sizeof buf, "%" PRId64 "s", s);
  return buf;
}

std::string u64(uint64_t v) { return std::to_string(v); }

std::string queue_text(const ListenerQueue& q) {
  if (q.length < 0) return q.listener + " -";
  return q.listener + " " + std::to_string(q.length) + " (peak " + std::to_string(q.peak) + ")";
}

std::string queue_json(const ListenerQueue& q) {
  return "{\"listener\":" + json_string(q.listener) +
         ",\"length\":" + (q.length < 0 ? std::string("null") : std::to_string(q.length)) +
         ",\"peak\":" + (q.length < 0 ? std::string("null") : std::to_string(q.peak)) + "}";
}

std::string bus_text(const BusSnapshot& b, int64_t now_ms) {
  if (b.url.empty()) return "";
  return "chat bus: " + b.url + " " + bus_state_name(b.state) + " since " + iso_time(b.since_ms) + " (" +
         duration(now_ms - b.since_ms) + "), pid " + std::to_string(b.pid) + ", published " + u64(b.published) +
         ", in flight " + u64(b.in_flight) + ", received " + u64(b.received) + ", lost " + u64(b.lost) +
         ", foreign " + u64(b.foreign) + ", outages " + u64(b.outages) + ", restarts " + u64(b.restarts) + "\n";
}

std::string bus_json(const BusSnapshot& b) {
  if (b.url.empty()) return "null";
  return "{\"url\":" + json_string(b.url) + ",\"state\":" + json_string(bus_state_name(b.state)) +
         ",\"since\":" + json_string(iso_time(b.since_ms)) + ",\"pid\":" + std::to_string(b.pid) +
         ",\"published\":" + u64(b.published) + ",\"in_flight\":" + u64(b.in_flight) + ",\"received\":" +
         u64(b.received) + ",\"lost\":" + u64(b.lost) + ",\"foreign\":" + u64(b.foreign) +
         ",\"outages\":" + u64(b.outages) + ",\"restarts\":" + u64(b.restarts) + "}";
}

}  // namespace

std::string iso_time(int64_t wall_ms) {
  time_t t = static_cast<time_t>(wall_ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string render_status_text(const StatusSnapshot& s) {
  size_t busy = 0;
  for (const auto& w : s.workers) busy += w.state == WorkerState::busy;
  std::string out = "wsserver " + s.version + " running, pid " + std::to_string(s.pid) + ", up " +
                    duration(s.now_ms - s.started_ms) + " (since " + iso_time(s.started_ms) + ")\n";
  out += "config: " + (s.config_path.empty() ? std::string("(built-in defaults)") : s.config_path) + ", service " +
         s.service + ", generation " + std::to_string(s.generation) + "\n";
  out += "listening:";
  for (const auto& l : s.listeners) out += " " + l;
  out += "\naccept queues:";
  for (size_t i = 0; i < s.queues.size(); ++i) out += (i ? ", " : " ") + queue_text(s.queues[i]);
  out += "\nworkers: " + std::to_string(s.workers.size()) + " (" + std::to_string(busy) + " busy, " +
         std::to_string(s.workers.size() - busy) + " not busy)\n";
  char line[256];
  snprintf(line, sizeof line, "  %-8s %-9s %-4s %-8s %-40s %s\n", "PID", "STATE", "GEN", "CLIENTS", "CLIENT", "SINCE");
  out += line;
  for (const auto& w : s.workers) {
    std::string since = iso_time(w.since_ms) + " (" + duration(s.now_ms - w.since_ms) + ")";
    snprintf(line, sizeof line, "  %-8d %-9s %-4u %-8" PRIu64 " %-40s %s\n", w.pid, state_name(w.state), w.generation,
             w.clients, w.client.empty() ? "-" : w.client.c_str(), since.c_str());
    out += line;
  }
  const Counters& t = s.totals;
  out += "totals: connections " + u64(t.clients) + ", messages " + u64(t.messages) + ", bytes in " + u64(t.bytes_in) +
         ", bytes out " + u64(t.bytes_out) + ", rejected " + u64(t.rejected) + ", worker deaths " +
         u64(s.worker_deaths) + "\n";
  out += bus_text(s.bus, s.now_ms);
  return out;
}

std::string render_status_json(const StatusSnapshot& s) {
  std::string out = "{\"pid\":" + std::to_string(s.pid) + ",\"version\":" + json_string(s.version) +
                    ",\"started\":" + json_string(iso_time(s.started_ms)) +
                    ",\"uptime_seconds\":" + std::to_string((s.now_ms - s.started_ms) / 1000) +
                    ",\"config\":" + json_string(s.config_path) + ",\"service\":" + json_string(s.service) +
                    ",\"generation\":" + std::to_string(s.generation) + ",\"listeners\":[";
  for (size_t i = 0; i < s.listeners.size(); ++i) out += (i ? "," : "") + json_string(s.listeners[i]);
  out += "],\"workers\":[";
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const auto& w = s.workers[i];
    out += std::string(i ? "," : "") + "{\"pid\":" + std::to_string(w.pid) + ",\"state\":" +
           json_string(state_name(w.state)) + ",\"generation\":" + std::to_string(w.generation) +
           ",\"clients\":" + u64(w.clients) + ",\"client\":" + (w.client.empty() ? "null" : json_string(w.client)) +
           ",\"since\":" + json_string(iso_time(w.since_ms)) + "}";
  }
  const Counters& t = s.totals;
  out += "],\"totals\":{\"connections\":" + u64(t.clients) + ",\"messages\":" + u64(t.messages) +
         ",\"bytes_in\":" + u64(t.bytes_in) + ",\"bytes_out\":" + u64(t.bytes_out) + ",\"rejected\":" +
         u64(t.rejected) + ",\"worker_deaths\":" + u64(s.worker_deaths) + "},\"queues\":[";
  for (size_t i = 0; i < s.queues.size(); ++i) out += (i ? "," : "") + queue_json(s.queues[i]);
  return out + "],\"chat_bus\":" + bus_json(s.bus) + "}\n";
}

}  // namespace ws
