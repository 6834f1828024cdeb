#include "wsserver/master.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "wsserver/exit_codes.hpp"
#include "wsserver/log.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/version.hpp"
#include "wsserver/worker.hpp"

namespace ws {
namespace {

// A worker that dies abnormally before this age counts as a crash loop.
constexpr int64_t young_ms = 1000;
constexpr int64_t max_respawn_delay_ms = 10000;
// How long a fast stop waits before killing, and how often it repeats its
// signal (a worker can receive it just before blocking in recv()).
constexpr int64_t fast_stop_limit_ms = 3000;
constexpr int64_t fast_stop_nudge_ms = 100;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "stopped with wait status " + std::to_string(status);
}

}  // namespace

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

sigset_t master_signal_set() {
  return signals::make_set({SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD});
}

Master::Master(Options options, std::vector<std::string> args, std::vector<Listener> listeners)
    : options_(std::move(options)),
      config_(options_.config),
      args_(std::move(args)),
      listeners_(std::move(listeners)),
      board_(Scoreboard::create(max_workers_limit)),
      target_workers_(config_.workers) {}

int Master::run() {
  signals::catch_signals({SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD});
  log::info("wsserver %s started: pid %d, service %s, %d workers%s%s", version, static_cast<int>(getpid()),
            service_name(config_.service), config_.workers, options_.config_path.empty() ? "" : ", config ",
            options_.config_path.c_str());
  for (const auto& listener : listeners_)
    for (const auto& socket : listener.sockets) log::info("listening on %s", socket.local.c_str());

  for (;;) {
    reap_children();
    handle_signals();
    if (stop_ != Stop::none) {
      progress_stop();
      if (children_.empty()) break;
    } else {
      maintain_pool();
    }
    wait_for_event();
  }
  for (const auto& listener : listeners_) remove_socket_file(listener);
  log::info("wsserver stopped");
  return exit_status_;
}

void Master::wait_for_event() {
  int64_t now = monotonic_ms();
  int64_t wake = INT64_MAX;
  if (stop_ == Stop::none && live_workers() < target_workers_) wake = std::min(wake, next_spawn_ms_);
  if (stop_ != Stop::none && !killed_stragglers_) wake = std::min(wake, stop_deadline_ms_);
  if (stop_ == Stop::fast) wake = std::min(wake, next_nudge_ms_);
  timespec timeout{};
  timespec* timeout_ptr = nullptr;
  if (wake != INT64_MAX) {
    int64_t ms = std::max<int64_t>(0, wake - now);
    timeout = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    timeout_ptr = &timeout;
  }
  sigset_t open_mask = signals::current_mask_without(master_signal_set());
  // Every signal the master handles is unblocked only inside this call, so
  // one that arrives while the loop works is seen here at once.
  if (ppoll(nullptr, 0, timeout_ptr, &open_mask) < 0 && errno != EINTR)
    log::error("%s", log::syscall_error("ppoll").c_str());
}

void Master::reap_children() {
  // One SIGCHLD can stand for many deaths: reap until nothing is left.
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = std::find_if(children_.begin(), children_.end(), [pid](const Child& c) { return c.pid == pid; });
    if (it == children_.end()) continue;
    Child child = *it;
    children_.erase(it);
    on_child_exit(child, status);
  }
}

void Master::on_child_exit(const Child& child, int status) {
  WorkerSlot& slot = board_.slot(child.slot);
  retired_totals_ += slot.counters();
  slot.clear();
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  bool expected = clean || stop_ != Stop::none;
  std::string how = describe_status(status);
  if (expected) log::info("worker %d %s", child.pid, how.c_str());
  else log::warn("worker %d %s", child.pid, how.c_str());
  if (!clean) ++worker_deaths_;

  if (WIFEXITED(status) && WEXITSTATUS(status) == exit_code::worker_setup_failed) {
    if (stop_ == Stop::none) log::error("a worker could not set itself up: stopping");
    exit_status_ = exit_code::failure;
    begin_stop(Stop::fast);
    return;
  }
  if (expected || child.retiring) return;
  if (monotonic_ms() - child.started_ms >= young_ms) {
    young_crashes_ = 0;
    return;
  }
  // Workers dying young: back off 0.1, 0.2, 0.4 ... up to 10 s between
  // starts, so a crash loop costs little CPU and few log lines.
  ++young_crashes_;
  if (young_crashes_ < 2) return;
  int64_t delay = std::min<int64_t>(max_respawn_delay_ms, int64_t{100} << std::min(young_crashes_ - 2, 16));
  next_spawn_ms_ = monotonic_ms() + delay;
  log::warn("workers keep dying young: next start in %.1f s", static_cast<double>(delay) / 1000.0);
}

void Master::handle_signals() {
  if (signals::take(SIGINT)) begin_stop(Stop::fast);
  if (signals::take(SIGTERM) || signals::take(SIGQUIT)) begin_stop(Stop::graceful);
  signals::take(SIGCHLD);  // reaping runs every turn anyway
  if (signals::take(SIGUSR1)) {
    log::info("reopening log files");
    log::reopen();
    signal_children(SIGUSR1);
  }
  if (signals::take(SIGHUP)) log::warn("reload is not supported yet: ignoring SIGHUP");
  if (signals::take(SIGTTIN)) target_workers_ = std::min(target_workers_ + 1, config_.max_workers);
  if (signals::take(SIGTTOU)) target_workers_ = std::max(target_workers_ - 1, 1);
}

int Master::live_workers() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(), [this](const Child& c) {
    return !c.retiring && c.generation == generation_;
  }));
}

void Master::maintain_pool() {
  int live = live_workers();
  while (live < target_workers_ && monotonic_ms() >= next_spawn_ms_ && spawn_worker()) ++live;
  for (; live > target_workers_; --live) retire_one_worker();
}

std::vector<int> Master::master_only_fds() const { return {}; }

bool Master::spawn_worker() {
  int slot = board_.free_slot();
  if (slot < 0) {
    log::error("no free scoreboard slot for a new worker");
    next_spawn_ms_ = monotonic_ms() + 1000;
    return false;
  }
  // The slot is claimed before fork so that the child's first state change
  // cannot be overwritten by the parent.
  board_.slot(slot).assign(0, generation_, wall_clock_ms());
  pid_t pid = fork();
  if (pid < 0) {
    log::error("%s", log::syscall_error("fork").c_str());
    board_.slot(slot).clear();
    next_spawn_ms_ = monotonic_ms() + 1000;
    return false;
  }
  if (pid == 0) {
    WorkerSetup setup{&config_, &listeners_, &board_.slot(slot), static_cast<int>(getppid()), master_only_fds()};
    run_worker(setup);
  }
  board_.slot(slot).set_pid(pid);
  children_.push_back({pid, slot, generation_, monotonic_ms(), false});
  log::info("worker %d started", static_cast<int>(pid));
  return true;
}

void Master::retire_one_worker() {
  // An idle worker goes first, so no client waits for a retiring one.
  Child* pick = nullptr;
  for (auto& c : children_) {
    if (c.retiring || c.generation != generation_) continue;
    if (!pick || board_.slot(c.slot).state() == WorkerState::idle) pick = &c;
    if (board_.slot(c.slot).state() == WorkerState::idle) break;
  }
  if (!pick) return;
  pick->retiring = true;
  kill(pick->pid, SIGUSR2);
}

void Master::signal_children(int sig) {
  // ESRCH: the child died and is not reaped yet; nothing to tell it.
  for (const auto& c : children_) kill(c.pid, sig);
}

void Master::begin_stop(Stop kind) {
  if (stop_ == Stop::fast || stop_ == kind) return;
  int64_t now = monotonic_ms();
  if (kind == Stop::graceful) {
    log::info("graceful stop: serving queued clients, waiting up to %d s for busy workers", config_.graceful_timeout);
    for (const auto& listener : listeners_) refuse_new_connections(listener);
    signal_children(SIGQUIT);
    stop_deadline_ms_ = now + int64_t{config_.graceful_timeout} * 1000;
  } else {
    log::info("fast stop: closing every connection now");
    signal_children(SIGTERM);
    stop_deadline_ms_ = std::min(stop_ == Stop::graceful ? stop_deadline_ms_ : INT64_MAX, now + fast_stop_limit_ms);
    next_nudge_ms_ = now + fast_stop_nudge_ms;
  }
  stop_ = kind;
  // The workers hold their own copies; the master's are no longer needed.
  for (auto& listener : listeners_) listener.sockets.clear();
}

void Master::progress_stop() {
  int64_t now = monotonic_ms();
  if (stop_ == Stop::fast && now >= next_nudge_ms_) {
    signal_children(SIGTERM);
    next_nudge_ms_ = now + fast_stop_nudge_ms;
  }
  if (!killed_stragglers_ && now >= stop_deadline_ms_ && !children_.empty()) {
    log::warn("stop timeout: killing %zu remaining workers", children_.size());
    signal_children(SIGKILL);
    killed_stragglers_ = true;
  }
}

}  // namespace ws
