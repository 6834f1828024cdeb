// access_log.hpp: the access log's record of one closed connection, as the
// text line it always was or as one JSON object per line
// (access_log_format, SPEC section 14).
//
// A record never holds what the client sent (its messages, its AUTH
// secrets): only the address, the counts and why the connection ended.
// Every string in a JSON record is escaped all the same (json.hpp), so no
// value, whatever its bytes, can end a string, add a field or a line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/config.hpp"

namespace ws {

struct AccessRecord {
  int64_t time_ms = 0;      // wall clock at the close
  std::string client;       // "127.0.0.1:5000", "[::1]:5000" or "unix"
  int pid = 0;              // the worker's
  int64_t duration_ms = 0;
  uint64_t messages = 0, bytes_in = 0, bytes_out = 0;
  std::string_view reason;  // close_reason_name()
};

// Text: "CLIENT PID SECONDS MESSAGES IN OUT REASON" (the log puts the time
// in front). JSON: {"time":..., "client":..., "pid":..., "duration":SECONDS,
// "messages":..., "bytes_in":..., "bytes_out":..., "reason":...}. No newline.
std::string format_access_record(const AccessRecord& record, AccessLogFormat format);

// Writes the record to the access log, if there is one.
void log_access_record(const AccessRecord& record, AccessLogFormat format);

}  // namespace ws
