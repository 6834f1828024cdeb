// worker.hpp: a worker process. It accepts one client at a time, serves it
// until it leaves, and goes back to accept. Signals from the master:
//   QUIT  drain: finish the client, serve every connection still waiting in
//         the listen backlog, exit (graceful stop)
//   USR2  retire: finish the client and exit (reload, pool shrink, and the
//         signal it gets if the master dies)
//   TERM  stop now: tell the client the server is shutting down, exit
//   USR1  reopen log files
#pragma once

#include <vector>

#include "wsserver/config.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/privileges.hpp"
#include "wsserver/scoreboard.hpp"

namespace ws {

struct WorkerSetup {
  const Config* config;
  const std::vector<Listener>* listeners;
  WorkerSlot* slot;
  int master_pid;
  // Descriptors only the master may hold (pid file lock, control socket...).
  std::vector<int> master_only_fds;
  const Identity* identity;
};

// Runs in the child right after fork; never returns.
[[noreturn]] void run_worker(const WorkerSetup& setup);

}  // namespace ws
