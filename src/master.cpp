#include "wsserver/master.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "wsserver/daemon.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/log.hpp"
#include "wsserver/sd_notify.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/version.hpp"

namespace ws {
namespace {

// A worker that dies abnormally before this age counts toward a crash loop.
constexpr int64_t young_ms = 1000;
constexpr int64_t max_respawn_delay_ms = 10000;
// How long a fast stop waits before killing, and how often it repeats its
// signal (a worker can receive it just before blocking in recv()).
constexpr int64_t fast_stop_limit_ms = 3000;
constexpr int64_t fast_stop_nudge_ms = 100;
// How often the master looks for an idle worker while an overflow client waits.
constexpr int64_t overflow_poll_ms = 5;
// How often a graceful stop looks whether a listener's backlog is drained.
constexpr int64_t drain_poll_ms = 20;
// After a listener wakes the master, it looks again only this much later: a
// burst is seen within this time, while a steady stream of clients taken by
// idle workers wakes the master at most this often, not once per client.
constexpr int64_t listener_quiet_ms = 15;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "stopped with wait status " + std::to_string(status);
}

// Mapped before any worker exists: without it there is no pool to supervise.
Scoreboard board_or_exit(int slots) {
  std::string error;
  auto board = Scoreboard::create(slots, &error);
  if (!board) log::fatal(exit_code::os_error, "%s", error.c_str());
  return std::move(*board);
}

}  // namespace

sigset_t master_signal_set() {
  return signals::make_set({SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD});
}

Master::Master(MasterSetup setup)
    : s_(std::move(setup)),
      config_(s_.options.config),
      board_(board_or_exit(max_workers_limit)),
      target_workers_(config_.workers),
      access_(parse_access_rules(config_)),
      started_wall_ms_(wall_clock_ms()) {
  if (!open_handoff(&handoff_)) log::fatal(exit_code::os_error, "%s", log::syscall_error("socketpair").c_str());
  if (!prepare_chat(config_)) log::fatal(exit_code::os_error, "cannot create the chat ring");
  prepare_bus();
  // A broadcast's text comes through the control socket.
  if (s_.control) s_.control->set_max_request(static_cast<size_t>(config_.max_message) + 64);
  try {
    auth_limit_ = AuthLimit::create();
  } catch (const std::system_error& e) {
    log::fatal(exit_code::os_error, "%s", e.what());
  }
}

int Master::run() {
  signals::catch_signals({SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD});
  log::info("wsserver %s started: pid %d, service %s, %d workers%s%s", version, static_cast<int>(getpid()),
            service_name(config_.service), config_.workers, s_.options.config_path.empty() ? "" : ", config ",
            s_.options.config_path.c_str());
  for (const auto& listener : s_.listeners) {
    set_inherited_options(listener, config_.idle_timeout);
    for (const auto& socket : listener.sockets)
      log::info("listening on %s%s", listener.address.transport.prefix(), socket.local.c_str());
  }
  if (s_.metrics)
    for (const auto& local : s_.metrics->local()) log::info("metrics on http://%s/metrics", local.c_str());
  log_identity(s_.identity, s_.identity_warning);
  tend_pool();
  if (live_workers() == 0) log::fatal(exit_code::os_error, "cannot start any worker");
  daemon::report_ready();
  last_status_ = status_line();
  sd::notify("READY=1\nSTATUS=" + last_status_);

  for (;;) {
    reap_children();
    handle_signals();
    watch_upgrade();
    settle_overflow();
    if (stop_ != Stop::none) {
      progress_stop();
      if (children_.empty() && !stop_bus()) break;
    } else {
      tend_pool();
      tend_bus();
    }
    notify_manager();
    wait_for_event();
  }
  finish();
  return exit_status_;
}

void Master::finish() {
  for (const auto& listener : s_.listeners) remove_socket_file(listener);
  if (s_.control) s_.control->remove_file();
  if (s_.pid_file) s_.pid_file->remove();
  log::info("wsserver stopped");
}

int64_t Master::next_wake_ms() const {
  int64_t wake = INT64_MAX;
  if (stop_ == Stop::none && live_workers() < target_workers_ && room_for_worker()) wake = std::min(wake, next_spawn_ms_);
  if (stop_ == Stop::none) wake = std::min(wake, next_tick_ms_);
  if (!overflow_.empty()) wake = std::min(wake, monotonic_ms() + overflow_poll_ms);
  if (watching_listeners() && listeners_quiet_until_ms_ > monotonic_ms()) wake = std::min(wake, listeners_quiet_until_ms_);
  if (stop_ != Stop::none && !killed_stragglers_) wake = std::min(wake, stop_deadline_ms_);
  if (stop_ == Stop::fast) wake = std::min(wake, next_nudge_ms_);
  if (stop_ == Stop::graceful && holds_listeners()) wake = std::min(wake, monotonic_ms() + drain_poll_ms);
  for (const auto& c : children_) wake = std::min(wake, c.retire_deadline_ms);
  if (upgrade_) wake = std::min(wake, upgrade_->deadline_ms);
  if (sd::watchdog_interval_ms() > 0) wake = std::min(wake, next_watchdog_ms_);
  if (sd::enabled() && status_line() != last_status_) wake = std::min(wake, next_status_ms_);
  return std::min(wake, next_bus_wake_ms());
}

void Master::wait_for_event() {
  int64_t now = monotonic_ms();
  int64_t wake = next_wake_ms();
  std::vector<pollfd> fds;
  if (s_.control) {
    wake = std::min(wake, s_.control->expire(now));
    s_.control->add_poll_fds(fds);
  }
  if (upgrade_) fds.push_back({upgrade_->channel.fd(), POLLIN, 0});  // read by watch_upgrade
  if (s_.metrics) {
    wake = std::min(wake, s_.metrics->expire(now));
    s_.metrics->add_poll_fds(fds);
  }
  size_t first_listener = fds.size();
  size_t first_watched = fds.size();
  if (watching_listeners() && now >= listeners_quiet_until_ms_) {
    for (const auto& listener : s_.listeners)
      for (const auto& socket : listener.sockets) fds.push_back({socket.fd.get(), POLLIN, 0});
    first_listener = fds.size();  // tend_pool counts what waits; nothing to take here
  } else if (taking_overflow()) {
    if (now < overflow_pause_until_ms_) {
      wake = std::min(wake, overflow_pause_until_ms_);
    } else {
      for (const auto& listener : s_.listeners)
        for (const auto& socket : listener.sockets)
          if (socket.type != SocketType::udp) fds.push_back({socket.fd.get(), POLLIN, 0});
    }
  }
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
  int n = ppoll(fds.data(), fds.size(), timeout_ptr, &open_mask);
  if (n < 0 && errno != EINTR) log::error("%s", log::syscall_error("ppoll").c_str());
  if (n > 0 && s_.control)
    s_.control->handle(fds, monotonic_ms(), [this](const std::string& request) { return answer_control(request); });
  if (n > 0 && s_.metrics) s_.metrics->handle(fds, monotonic_ms(), [this] { return render_metrics(metrics_snapshot()); });
  for (size_t i = first_watched; n > 0 && i < first_listener; ++i)
    if (fds[i].revents & POLLIN) listeners_quiet_until_ms_ = monotonic_ms() + listener_quiet_ms;
  for (size_t i = first_listener; n > 0 && i < fds.size(); ++i)
    if (fds[i].revents & POLLIN) take_overflow(fds[i].fd);
}

void Master::reap_children() {
  // One SIGCHLD can stand for many deaths: reap until nothing is left.
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (upgrade_ && pid == upgrade_->pid) upgrade_exited(status);
    if (pid == bus_pid_) {
      on_bus_exit(status);
      continue;
    }
    auto it = std::find_if(children_.begin(), children_.end(), [pid](const Child& c) { return c.pid == pid; });
    if (it == children_.end()) continue;
    Child child = *it;
    children_.erase(it);
    on_child_exit(child, status);
  }
}

void Master::on_child_exit(const Child& child, int status) {
  WorkerSlot& slot = board_.slot(child.slot);
  retired_totals_ += slot.read(child.pid, wall_clock_ms()).counters;
  slot.clear();
  if (chat_) chat_->detach(child.slot);
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string how = describe_status(status);
  if (clean || stop_ != Stop::none) log::info("worker %d %s", child.pid, how.c_str());
  else log::warn("worker %d %s", child.pid, how.c_str());
  if (!clean) {
    ++worker_deaths_;
    ++(WIFSIGNALED(status) ? master_counters_.deaths_by_signal : master_counters_.deaths_by_exit);
  }

  if (WIFEXITED(status) && WEXITSTATUS(status) == exit_code::worker_setup_failed) {
    if (stop_ == Stop::none) log::error("a worker could not set itself up: stopping");
    exit_status_ = exit_code::failure;
    begin_stop(Stop::fast);
    return;
  }
  if (!clean && stop_ == Stop::none && !child.retiring) back_off_after_crash(child, status);
}

void Master::back_off_after_crash(const Child& child, int) {
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
  ++master_counters_.respawn_backoffs;
  log::warn("workers keep dying young: next start in %.1f s", static_cast<double>(delay) / 1000.0);
}

void Master::handle_signals() {
  if (signals::take(SIGINT)) begin_stop(Stop::fast);
  if (signals::take(SIGTERM) || signals::take(SIGQUIT)) begin_stop(Stop::graceful);
  signals::take(SIGCHLD);  // reaping runs every turn anyway
  if (stop_ != Stop::none) return;
  // A reload waits for an upgrade under way: the new master reads the config itself.
  if (!upgrade_ && signals::take(SIGHUP)) {
    notify_reloading();
    reload();
    sd::notify("READY=1");  // applied or refused: the manager must not wait in "reloading"
  }
  if (signals::take(SIGUSR2)) {
    std::string why = start_upgrade();
    if (!why.empty()) log::error("upgrade refused: %s", why.c_str());
  }
  if (signals::take(SIGUSR1)) {
    log::reopen();
    signal_children(SIGUSR1);
    if (bus_pid_ > 0) kill(bus_pid_, SIGUSR1);
    log::info("reopened log files");
  }
  if (signals::take(SIGTTIN)) grow_by_signal();
  if (signals::take(SIGTTOU)) shrink_by_signal();
}

void Master::signal_children(int sig) {
  // ESRCH: the child died and is not reaped yet; nothing to tell it.
  for (const auto& c : children_) kill(c.pid, sig);
}

void Master::begin_stop(Stop kind) {
  if (stop_ == Stop::fast || stop_ == kind) return;
  if (upgrade_) {
    kill(upgrade_->pid, SIGKILL);
    upgrade_failed("the master was told to stop");
  }
  if (kind != Stop::handover) sd::notify("STOPPING=1");
  int64_t now = monotonic_ms();
  if (kind == Stop::handover) {
    hand_over();
    stop_deadline_ms_ = now + int64_t{config_.graceful_timeout} * 1000;
  } else if (kind == Stop::graceful) {
    for (const auto& listener : s_.listeners) refuse_new_connections(listener);
    signal_children(worker_signal::drain);
    stop_deadline_ms_ = now + int64_t{config_.graceful_timeout} * 1000;
    log::info("graceful stop: serving queued clients, waiting up to %d s for busy workers", config_.graceful_timeout);
  } else {
    signal_children(worker_signal::stop_now);
    log::info("fast stop: closing every connection now");
    stop_deadline_ms_ = std::min(stop_ == Stop::graceful ? stop_deadline_ms_ : INT64_MAX, now + fast_stop_limit_ms);
    next_nudge_ms_ = now + fast_stop_nudge_ms;
  }
  stop_ = kind;
  // The workers hold their own copies. A graceful stop keeps the TCP ones
  // until their backlog is drained (close_drained_listeners); the master
  // needs no other: a unix listener's file is gone, so nobody new reaches it.
  for (auto& listener : s_.listeners)
    std::erase_if(listener.sockets,
                  [kind](const BoundSocket& s) { return kind == Stop::fast || s.type != SocketType::tcp; });
}

// The master, not each worker, ends the listening: a listening socket is one
// kernel object however many processes hold it, and shutdown() stops it for
// all of them at once. So a busy worker, blocked in recv() or send() for as
// long as its client likes, needs neither a signal nor a change to its
// conversation (signals reach it there only for a fast stop and a reopen),
// and the port refuses new clients at once instead of when the last busy
// worker leaves. The master never accepts here, so it can watch the queue
// (TCP_INFO) without taking from it; the drop filter keeps the queue from
// growing, and until it is empty the socket stays open, so no connection
// queued at the signal is reset.
void Master::close_drained_listeners() {
  for (auto& listener : s_.listeners)
    std::erase_if(listener.sockets, [](const BoundSocket& s) {
      if (!backlog_drained(s)) return false;
      stop_listening(s);
      return true;
    });
}

bool Master::holds_listeners() const {
  return std::any_of(s_.listeners.begin(), s_.listeners.end(), [](const Listener& l) { return !l.sockets.empty(); });
}

void Master::progress_stop() {
  int64_t now = monotonic_ms();
  if (stop_ == Stop::graceful) close_drained_listeners();
  if (stop_ == Stop::fast && now >= next_nudge_ms_) {
    signal_children(worker_signal::stop_now);
    next_nudge_ms_ = now + fast_stop_nudge_ms;
  }
  if (!killed_stragglers_ && now >= stop_deadline_ms_ && !children_.empty()) {
    log::warn("stop timeout: killing %zu remaining workers", children_.size());
    signal_children(SIGKILL);
    killed_stragglers_ = true;
  }
}

StatusSnapshot Master::snapshot() const {
  StatusSnapshot s;
  s.pid = static_cast<int>(getpid());
  s.version = version;
  s.started_ms = started_wall_ms_;
  s.now_ms = wall_clock_ms();
  s.config_path = s_.options.config_path;
  s.service = service_name(config_.service);
  s.generation = generation_;
  for (const auto& l : s_.listeners)
    for (const auto& socket : l.sockets) {
      s.listeners.push_back(l.address.transport.prefix() + socket.local);
      int length = accept_queue_length(socket);
      s.queues.push_back({socket.local, length, std::max(socket.queue_peak, length)});
    }
  s.totals = retired_totals_;
  for (const auto& c : children_) {
    SlotReading slot = board_.slot(c.slot).read(c.pid, s.now_ms);
    WorkerStatus w;
    w.pid = c.pid;
    w.state = c.retiring && slot.state == WorkerState::idle ? WorkerState::exiting : slot.state;
    w.generation = c.generation;
    w.clients = slot.counters.clients;
    if (w.state == WorkerState::busy) w.client = slot.client ? slot.client->text() : "unknown";
    w.since_ms = slot.since_ms;
    s.totals += slot.counters;
    s.workers.push_back(std::move(w));
  }
  s.worker_deaths = worker_deaths_;
  s.bus = bus_snapshot();
  return s;
}

MetricsSnapshot Master::metrics_snapshot() const {
  MetricsSnapshot m{snapshot(), config_.max_workers, master_counters_};
  shown_totals_.raise_to(m.status.totals);
  m.status.totals = shown_totals_;
  return m;
}

std::string Master::answer_control(const std::string& request) {
  if (request == "status") return render_status_text(snapshot());
  if (request == "status json") return render_status_json(snapshot());
  if (request == "upgrade") {
    std::string why = start_upgrade();
    if (why.empty()) return "";  // held until the new master is ready or has failed
    log::error("upgrade refused: %s", why.c_str());
    return "ERR upgrade refused: " + why + "\n";
  }
  if (request.starts_with("broadcast ")) return broadcast(std::string_view(request).substr(10));
  return "ERR unknown request\n";
}

}  // namespace ws
