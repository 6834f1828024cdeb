// master.hpp: the supervising process. It never serves a client: it forks
// the workers, reaps and replaces them, answers the control socket and the
// metrics endpoint (from its one wait, never blocking) and acts on signals.
// Its loop is a table of contents: reap, handle signals, settle the clients
// it holds for overflow = reject, follow an upgrade, tell systemd, stop or
// tend the pool, wait. master.cpp holds the loop, stopping and status;
// master_pool.cpp the pool; master_reload.cpp the reload (and the metrics
// endpoint's address); master_upgrade.cpp the binary upgrade and systemd's
// notifications.
#pragma once

#include <sched.h>

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/bus.hpp"
#include "wsserver/cli.hpp"
#include "wsserver/control.hpp"
#include "wsserver/handoff.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/metrics.hpp"
#include "wsserver/metrics_server.hpp"
#include "wsserver/pidfile.hpp"
#include "wsserver/privileges.hpp"
#include "wsserver/scoreboard.hpp"
#include "wsserver/status.hpp"
#include "wsserver/upgrade.hpp"
#include "wsserver/worker.hpp"

namespace ws {

// The signals the master acts on; blocked except while it waits.
sigset_t master_signal_set();

// What main() prepared before the master takes over.
struct MasterSetup {
  Options options;
  std::vector<std::string> args;  // kept to reread the config on reload, and for an upgrade
  std::string binary;             // the path we were started from, for an upgrade
  std::string cwd;
  std::vector<Listener> listeners;
  Identity identity;
  std::string identity_warning;  // from resolve_identity, logged once started
  std::optional<PidFile> pid_file;
  std::optional<ControlServer> control;
  std::optional<MetricsServer> metrics;  // metrics_listen's endpoint, when set
  std::string secret;  // auth_file's, loaded by main and on reload
  std::string ws_page;  // the page ws: listeners serve (ws_page's file or the built-in one), idem
};

class Master {
 public:
  explicit Master(MasterSetup setup);
  // Runs until stopped; returns the process exit status.
  int run();

 private:
  // handover: the stop of an old master after an upgrade; its workers
  // finish their clients while the new master serves on the same sockets.
  enum class Stop { none, graceful, fast, handover };
  struct Child {
    int pid;
    int slot;
    uint32_t generation;
    int64_t started_ms;
    bool retiring = false;
    int64_t retire_deadline_ms = INT64_MAX;
  };

  struct PoolCounts {
    int total = 0;  // current generation, not retiring
    int idle = 0;   // of those, idle or still starting
  };

  void reap_children();
  void on_child_exit(const Child& child, int status);
  void back_off_after_crash(const Child& child, int status);
  void handle_signals();
  void tend_pool();
  PoolCounts count_pool() const;
  void keep_spares();
  int count_waiting(const PoolCounts& pool);
  void absorb_burst(const PoolCounts& pool);
  void retire_idle_workers(int count);
  bool watching_listeners() const;
  void grow_by_signal();
  void shrink_by_signal();
  void note_too_many_clients();
  bool taking_overflow() const;
  void take_overflow(int listen_fd);
  ListenerTransport transport_of(int listen_fd) const;
  void pause_overflow_for_resources(int err);
  void settle_overflow();
  bool spawn_worker();
  void retire(Child& child);
  void retire_one_worker();
  void kill_overdue_workers();
  void reload();
  bool apply_reload();
  bool open_metrics(const Config& next, std::optional<MetricsServer>* fresh);
  void adopt_metrics(const std::string& address, std::optional<MetricsServer> fresh);
  bool prepare_chat(const Config& config);
  bool open_new_listeners(const Config& next, const UnixAccess& access, std::vector<Listener>* fresh);
  std::vector<Listener> adopt_listeners(const Config& next, const UnixAccess& access, std::vector<Listener> fresh);
  bool switch_logs(const Options& next, const Identity& identity);
  std::string start_upgrade();
  upgrade::Launch upgrade_launch(const upgrade::Channel& channel) const;
  bool move_files_aside(std::string* error);
  void restore_files();
  void watch_upgrade();
  void upgrade_exited(int status);
  void upgrade_failed(const std::string& why);
  void upgrade_succeeded();
  void notify_manager();
  std::string status_line() const;
  void notify_reloading();
  void begin_stop(Stop kind);
  void hand_over();
  void progress_stop();
  void close_drained_listeners();
  bool holds_listeners() const;
  void signal_children(int sig);
  void wait_for_event();
  int64_t next_wake_ms() const;
  int live_workers() const;
  bool room_for_worker() const;
  std::vector<int> master_only_fds() const;
  void stay_on_cpu();
  void release_cpu();
  StatusSnapshot snapshot() const;
  std::string answer_control(const std::string& request);
  // The chat bus process (bus.hpp; master_bus.cpp).
  void prepare_bus();
  void tend_bus();
  void spawn_bus();
  void on_bus_exit(int status);
  bool stop_bus();
  int64_t next_bus_wake_ms() const;
  BusSnapshot bus_snapshot() const;
  std::string broadcast(std::string_view text);
  MetricsSnapshot metrics_snapshot() const;
  void release_metrics();
  void reclaim_metrics();
  void finish();

  MasterSetup s_;
  Config& config_;
  Scoreboard board_;
  std::vector<Child> children_;
  std::vector<int> fork_closes_;        // master_only_fds() as of this turn's forks
  std::optional<cpu_set_t> fork_cpus_;  // while the master stays on one CPU: its own set
  uint32_t generation_ = 1;
  int target_workers_;  // the pool's size; deaths do not change it, spares and TTIN/TTOU do
  int spawn_rate_ = 1;   // workers added per tick when short of spares: 1, 2, 4 ... 32
  int waiting_ = 0;      // clients and datagrams seen waiting on the listeners this turn
  int64_t listeners_quiet_until_ms_ = 0;  // the listeners are not polled before this
  int64_t next_tick_ms_ = 0;
  int64_t last_too_many_log_ms_ = INT64_MIN / 2;
  int64_t overflow_pause_until_ms_ = 0;
  int64_t last_resource_log_ms_ = INT64_MIN / 2;
  struct WaitingClient {
    Fd client;
    int64_t deadline_ms;
    unsigned char transport_tag;  // its listener's ListenerTransport
  };
  std::vector<WaitingClient> overflow_;  // accepted while every worker was busy
  AccessRules access_;
  Handoff handoff_;
  std::optional<ChatRing> chat_;  // made when the service is first chat
  AuthLimit auth_limit_;          // shared with the workers; only they use it
  // The chat bus, as chat_bus was at start (a reload does not change it).
  std::optional<BusUrl> bus_url_;
  std::optional<ChatRing> outbox_;  // this instance's chat messages, for the bus to publish
  BusStats* bus_stats_ = nullptr;
  uint64_t bus_origin_ = 0;
  int bus_pid_ = 0;
  int64_t bus_started_ms_ = 0;
  int64_t next_bus_spawn_ms_ = 0;
  int bus_crashes_ = 0;
  uint64_t bus_restarts_ = 0;
  bool bus_told_to_stop_ = false;
  int64_t bus_kill_at_ms_ = INT64_MAX;
  int exit_status_ = 0;
  int64_t started_wall_ms_;

  Stop stop_ = Stop::none;
  int64_t stop_deadline_ms_ = 0;
  int64_t next_nudge_ms_ = 0;
  bool killed_stragglers_ = false;

  struct UpgradeRun {
    int pid;
    int64_t deadline_ms;
    upgrade::Channel channel;
    std::string status;  // the last STATUS= the new master sent: its failure's reason
  };
  std::optional<UpgradeRun> upgrade_;  // an upgrade under way
  int64_t next_watchdog_ms_ = 0;
  int64_t next_status_ms_ = 0;
  std::string last_status_;  // the STATUS= line systemd has

  int young_crashes_ = 0;
  int64_t next_spawn_ms_ = 0;
  Counters retired_totals_;
  uint64_t worker_deaths_ = 0;
  MasterCounters master_counters_;
  // The largest totals the metrics have shown: a total never goes back,
  // whatever a worker wrote in its slot.
  mutable Counters shown_totals_;
};

}  // namespace ws
