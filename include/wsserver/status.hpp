// status.hpp: what `wsserver -s status` shows, as text or one JSON object,
// rendered from a snapshot of the master and its scoreboard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wsserver/bus.hpp"
#include "wsserver/scoreboard.hpp"

namespace ws {

struct WorkerStatus {
  int pid = 0;
  WorkerState state = WorkerState::empty;
  uint32_t generation = 0;
  uint64_t clients = 0;     // clients this worker has served
  std::string client;       // current client's address, when busy
  int64_t since_ms = 0;     // wall-clock time of the last state change
};

struct ListenerQueue {
  std::string listener;
  int length = -1;          // connections in its accept queue; -1: not a TCP listener
  int peak = 0;             // the longest seen since start
};

struct StatusSnapshot {
  int pid = 0;
  std::string version;
  int64_t started_ms = 0;   // wall clock
  int64_t now_ms = 0;
  std::string config_path;
  std::string service;
  uint32_t generation = 0;
  std::vector<std::string> listeners;
  std::vector<ListenerQueue> queues;
  std::vector<WorkerStatus> workers;
  Counters totals;          // every worker, past and present
  uint64_t worker_deaths = 0;
  BusSnapshot bus;          // url empty: no chat bus
};

std::string render_status_text(const StatusSnapshot& s);
std::string render_status_json(const StatusSnapshot& s);
// "2026-11-26T03:56:29Z"
std::string iso_time(int64_t wall_ms);

}  // namespace ws
