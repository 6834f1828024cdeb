// fd_audit.hpp: checks, through /proc, that a worker holds only what it
// may: its listeners, its one client, the log files, its epoll descriptor
// and, with overflow = reject, its end of the hand-off socket pair. Nothing
// of the master's (pid file, control socket, the master's end of the pair,
// clients the master holds) and nothing of other clients.
#pragma once

#include <string>
#include <vector>

#include "status_json.hpp"

namespace test {

struct WorkerFdRules {
  bool handoff = false;                // overflow = reject: one end of the pair is the worker's
  std::vector<std::string> log_files;  // files it may hold open besides descriptors 0-2
};

// One line per descriptor the worker should not hold (or should, and does
// not: its epoll descriptor), given what the master holds at that moment.
// `worker` is the master's view of it (busy with which client, or idle);
// `status` says which unix sockets are listeners and which generation is
// current (an older one may keep listeners the master has since closed).
std::vector<std::string> audit_worker_fds(const ServerStatus& status, const WorkerInfo& worker,
                                          const WorkerFdRules& rules);

// Audits every idle or busy worker of the master behind `control_socket`
// (starting and exiting workers are in transition and skipped), retrying
// a worker whose state changed while it was looked at. Each problem is
// prefixed with the worker's pid. `audited`, if given, gets how many were.
std::vector<std::string> audit_all_workers(const std::string& control_socket, const WorkerFdRules& rules,
                                           int* audited = nullptr);

}  // namespace test
