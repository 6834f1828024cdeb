// master.hpp: the supervising process. It never serves a client: it forks
// the workers, reaps and replaces them, and acts on signals. Its loop is a
// table of contents: reap, handle signals, stop or top the pool up, wait.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wsserver/cli.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/scoreboard.hpp"

namespace ws {

// The signals the master acts on; blocked except while it waits.
sigset_t master_signal_set();

class Master {
 public:
  Master(Options options, std::vector<std::string> args, std::vector<Listener> listeners);
  // Runs until stopped; returns the process exit status.
  int run();

 private:
  enum class Stop { none, graceful, fast };
  struct Child {
    int pid;
    int slot;
    uint32_t generation;
    int64_t started_ms;
    bool retiring;
  };

  void reap_children();
  void on_child_exit(const Child& child, int status);
  void handle_signals();
  void maintain_pool();
  bool spawn_worker();
  void retire_one_worker();
  void begin_stop(Stop kind);
  void progress_stop();
  void signal_children(int sig);
  void wait_for_event();
  int live_workers() const;
  std::vector<int> master_only_fds() const;

  Options options_;
  Config& config_;
  std::vector<std::string> args_;
  std::vector<Listener> listeners_;
  Scoreboard board_;
  std::vector<Child> children_;
  uint32_t generation_ = 1;
  int target_workers_;
  int exit_status_ = 0;

  Stop stop_ = Stop::none;
  int64_t stop_deadline_ms_ = 0;
  int64_t next_nudge_ms_ = 0;
  bool killed_stragglers_ = false;

  int young_crashes_ = 0;
  int64_t next_spawn_ms_ = 0;
  Counters retired_totals_;
  uint64_t worker_deaths_ = 0;
};

int64_t monotonic_ms();

}  // namespace ws
