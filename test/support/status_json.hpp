// status_json.hpp: what `wsserver -s status --json` says, read straight from
// the master's control socket and parsed just enough for the tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace test {

struct WorkerInfo {
  int pid = 0;
  std::string state;  // starting, idle, busy, exiting
  unsigned generation = 0;
  std::string client;  // "127.0.0.1:40000", "unix", or "" when none
  bool operator==(const WorkerInfo&) const = default;
};

struct ServerStatus {
  int pid = 0;
  unsigned generation = 0;
  std::vector<std::string> listeners;
  std::vector<WorkerInfo> workers;
};

ServerStatus parse_status_json(const std::string& json);
// Asks the master behind `control_socket`; nullopt if it does not answer.
std::optional<ServerStatus> query_status(const std::string& control_socket);
// The control socket of a master whose pid file is `pid_file` (the default: .pid -> .sock).
std::string control_socket_of(const std::string& pid_file);

}  // namespace test
