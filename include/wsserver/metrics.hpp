// metrics.hpp: the master's state as Prometheus's text exposition format
// 0.0.4 (SPEC section 14), rendered from a snapshot: the status snapshot
// (scoreboard and listeners) plus what only the master counts. Every
// metric and its meaning is listed in wsserver.conf(5), under metrics_listen.
#pragma once

#include <cstdint>
#include <string>

#include "wsserver/status.hpp"

namespace ws {

inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

// What the master counts itself, since start; it survives reloads.
struct MasterCounters {
  uint64_t deaths_by_signal = 0;  // workers killed by a signal
  uint64_t deaths_by_exit = 0;    // workers that exited with a non-zero status
  uint64_t respawn_backoffs = 0;  // times respawning was delayed (workers dying young)
  uint64_t reloads_applied = 0, reloads_refused = 0;
};

struct MetricsSnapshot {
  StatusSnapshot status;  // its totals only ever rise (Master keeps them so)
  int max_workers = 0;
  MasterCounters master;
};

std::string render_metrics(const MetricsSnapshot& snapshot);

// A label value as the format wants it: `\`, `"` and LF escaped, and any
// byte that is not well-formed UTF-8 replaced by U+FFFD.
std::string metrics_label_value(std::string_view text);

}  // namespace ws
