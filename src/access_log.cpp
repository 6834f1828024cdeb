#include "wsserver/access_log.hpp"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "wsserver/json.hpp"
#include "wsserver/log.hpp"

namespace ws {
namespace {

// "2026-11-29T19:04:05.123Z", as the log's own lines.
std::string iso_time_ms(int64_t wall_ms) {
  time_t t = static_cast<time_t>(wall_ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(wall_ms % 1000));
  return buf;
}

std::string seconds(int64_t ms) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string text_record(const AccessRecord& r) {
  char counts[80];
  snprintf(counts, sizeof counts, " %" PRIu64 " %" PRIu64 " %" PRIu64 " ", r.messages, r.bytes_in, r.bytes_out);
  return r.client + " " + std::to_string(r.pid) + " " + seconds(r.duration_ms) + counts + std::string(r.reason);
}

std::string json_record(const AccessRecord& r) {
  return "{\"time\":" + json_string(iso_time_ms(r.time_ms)) + ",\"client\":" + json_string(r.client) +
         ",\"pid\":" + std::to_string(r.pid) + ",\"duration\":" + seconds(r.duration_ms) +
         ",\"messages\":" + std::to_string(r.messages) + ",\"bytes_in\":" + std::to_string(r.bytes_in) +
         ",\"bytes_out\":" + std::to_string(r.bytes_out) + ",\"reason\":" + json_string(r.reason) + "}";
}

}  // namespace

std::string format_access_record(const AccessRecord& record, AccessLogFormat format) {
  return format == AccessLogFormat::json ? json_record(record) : text_record(record);
}

void log_access_record(const AccessRecord& record, AccessLogFormat format) {
  if (!log::access_enabled()) return;
  std::string line = format_access_record(record, format);
  if (format == AccessLogFormat::json) log::access_raw(line);
  else log::access("%s", line.c_str());
}

}  // namespace ws
