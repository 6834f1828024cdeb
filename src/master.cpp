#include "wsserver/master.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "wsserver/connection.hpp"
#include "wsserver/daemon.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/log.hpp"
#include "wsserver/secret.hpp"
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
// Pool maintenance runs once a second, as Apache's prefork does.
constexpr int64_t tick_ms = 1000;
constexpr int max_spawn_rate = 32;
constexpr int64_t too_many_log_interval_ms = 10000;
// With every worker busy but one idle, the idle one takes the next client;
// the master looks again after this pause instead of spinning on the listener.
constexpr int64_t overflow_pause_ms = 10;
// An overflow client waits this long for a worker that is finishing its
// client before it is rejected, and the master looks this often.
constexpr int64_t overflow_grace_ms = 200;
constexpr int64_t overflow_poll_ms = 5;
constexpr size_t max_overflow = 64;

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

Master::Master(MasterSetup setup)
    : s_(std::move(setup)),
      config_(s_.options.config),
      board_(Scoreboard::create(max_workers_limit)),
      target_workers_(config_.workers),
      access_(parse_access_rules(config_)),
      started_wall_ms_(wall_clock_ms()) {
  if (!open_handoff(&handoff_)) log::fatal(exit_code::os_error, "%s", log::syscall_error("socketpair").c_str());
  if (!prepare_chat(config_)) log::fatal(exit_code::os_error, "cannot create the chat ring");
}

// The ring is made once, before the workers that share it are forked, and
// sized for max_message and chat_backlog as they are then.
bool Master::prepare_chat(const Config& config) {
  if (config.service != ServiceKind::chat || chat_) return true;
  size_t capacity = std::max(ChatRing::capacity_for(static_cast<size_t>(config.max_message)),
                             4 * static_cast<size_t>(config.chat_backlog));
  try {
    chat_ = ChatRing::create(capacity);
  } catch (const std::exception& e) {
    log::error("chat ring of %zu bytes: %s", capacity, e.what());
    return false;
  }
  return true;
}

int Master::run() {
  signals::catch_signals({SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD});
  log::info("wsserver %s started: pid %d, service %s, %d workers%s%s", version, static_cast<int>(getpid()),
            service_name(config_.service), config_.workers, s_.options.config_path.empty() ? "" : ", config ",
            s_.options.config_path.c_str());
  for (const auto& listener : s_.listeners)
    for (const auto& socket : listener.sockets) log::info("listening on %s", socket.local.c_str());
  tend_pool();
  if (live_workers() == 0) log::fatal(exit_code::os_error, "cannot start any worker");
  daemon::report_ready();

  for (;;) {
    reap_children();
    handle_signals();
    settle_overflow();
    if (stop_ != Stop::none) {
      progress_stop();
      if (children_.empty()) break;
    } else {
      tend_pool();
    }
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
  if (stop_ == Stop::none && live_workers() < target_workers_) wake = std::min(wake, next_spawn_ms_);
  if (stop_ == Stop::none) wake = std::min(wake, next_tick_ms_);
  if (!overflow_.empty()) wake = std::min(wake, monotonic_ms() + overflow_poll_ms);
  if (stop_ != Stop::none && !killed_stragglers_) wake = std::min(wake, stop_deadline_ms_);
  if (stop_ == Stop::fast) wake = std::min(wake, next_nudge_ms_);
  for (const auto& c : children_) wake = std::min(wake, c.retire_deadline_ms);
  return wake;
}

void Master::wait_for_event() {
  int64_t now = monotonic_ms();
  int64_t wake = next_wake_ms();
  std::vector<pollfd> fds;
  if (s_.control) {
    wake = std::min(wake, s_.control->expire(now));
    s_.control->add_poll_fds(fds);
  }
  size_t first_listener = fds.size();
  if (taking_overflow()) {
    if (now < overflow_pause_until_ms_) {
      wake = std::min(wake, overflow_pause_until_ms_);
    } else {
      for (const auto& listener : s_.listeners)
        for (const auto& socket : listener.sockets)
          if (socket.transport != Transport::udp) fds.push_back({socket.fd.get(), POLLIN, 0});
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
  for (size_t i = first_listener; n > 0 && i < fds.size(); ++i)
    if (fds[i].revents & POLLIN) take_overflow(fds[i].fd);
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
  if (chat_) chat_->detach(child.slot);
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string how = describe_status(status);
  if (clean || stop_ != Stop::none) log::info("worker %d %s", child.pid, how.c_str());
  else log::warn("worker %d %s", child.pid, how.c_str());
  if (!clean) ++worker_deaths_;

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
  log::warn("workers keep dying young: next start in %.1f s", static_cast<double>(delay) / 1000.0);
}

void Master::handle_signals() {
  if (signals::take(SIGINT)) begin_stop(Stop::fast);
  if (signals::take(SIGTERM) || signals::take(SIGQUIT)) begin_stop(Stop::graceful);
  signals::take(SIGCHLD);  // reaping runs every turn anyway
  if (stop_ != Stop::none) return;
  if (signals::take(SIGHUP)) reload();
  if (signals::take(SIGUSR1)) {
    log::reopen();
    signal_children(SIGUSR1);
    log::info("reopened log files");
  }
  if (signals::take(SIGTTIN)) grow_by_signal();
  if (signals::take(SIGTTOU)) shrink_by_signal();
}

int Master::live_workers() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(), [this](const Child& c) {
    return !c.retiring && c.generation == generation_;
  }));
}

void Master::tend_pool() {
  int64_t now = monotonic_ms();
  if (now >= next_tick_ms_) {
    keep_spares();
    next_tick_ms_ = now + tick_ms;
  }
  int live = live_workers();
  while (live < target_workers_ && monotonic_ms() >= next_spawn_ms_ && spawn_worker()) ++live;
  for (; live > target_workers_; --live) retire_one_worker();
  kill_overdue_workers();
}

Master::PoolCounts Master::count_pool() const {
  PoolCounts counts;
  for (const auto& c : children_) {
    if (c.retiring || c.generation != generation_) continue;
    ++counts.total;
    WorkerState state = board_.slot(c.slot).state();
    // A worker still starting will be idle in a moment: counting it avoids
    // starting more than needed.
    counts.idle += state == WorkerState::idle || state == WorkerState::starting;
  }
  return counts;
}

// Apache's prefork rule: fewer than min_spare idle workers start 1, then 2,
// 4 ... up to 32 a second while the shortage lasts; more than max_spare
// retire one a second.
void Master::keep_spares() {
  PoolCounts pool = count_pool();
  if (pool.total < target_workers_) return;  // replacements are on their way
  if (pool.idle > config_.max_spare && target_workers_ > 1) {
    --target_workers_;
    spawn_rate_ = 1;
    return;
  }
  if (pool.idle < config_.min_spare && target_workers_ < config_.max_workers) {
    int add = std::min(spawn_rate_, config_.max_workers - target_workers_);
    target_workers_ += add;
    if (spawn_rate_ >= 8) log::info("short of idle workers: starting %d more (%d in all)", add, target_workers_);
    spawn_rate_ = std::min(spawn_rate_ * 2, max_spawn_rate);
    return;
  }
  spawn_rate_ = 1;
  if (pool.total >= config_.max_workers && pool.idle == 0) note_too_many_clients();
}

void Master::grow_by_signal() {
  PoolCounts pool = count_pool();
  if (target_workers_ >= config_.max_workers || pool.idle + 1 > config_.max_spare) {
    log::info("SIGTTIN ignored: the pool is at max_workers or max_spare");
    return;
  }
  ++target_workers_;
  log::info("SIGTTIN: one more worker (%d in all)", target_workers_);
}

void Master::shrink_by_signal() {
  PoolCounts pool = count_pool();
  if (target_workers_ <= 1 || pool.idle - 1 < config_.min_spare) {
    log::info("SIGTTOU ignored: the pool is at one worker or min_spare");
    return;
  }
  --target_workers_;
  log::info("SIGTTOU: one fewer worker (%d in all)", target_workers_);
}

void Master::note_too_many_clients() {
  int64_t now = monotonic_ms();
  if (now - last_too_many_log_ms_ < too_many_log_interval_ms) return;
  last_too_many_log_ms_ = now;
  log::warn("too many clients: all %d workers are busy (max_workers, overflow %s)", config_.max_workers,
            config_.overflow == Overflow::reject ? "reject" : "queue");
}

bool Master::taking_overflow() const {
  return stop_ == Stop::none && config_.overflow == Overflow::reject && live_workers() >= config_.max_workers;
}

void Master::take_overflow(int listen_fd) {
  if (count_pool().idle > 0) {
    overflow_pause_until_ms_ = monotonic_ms() + overflow_pause_ms;
    return;
  }
  Fd client(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client) return;  // a worker was quicker, or the client left
  overflow_.push_back({std::move(client), monotonic_ms() + (overflow_.size() < max_overflow ? overflow_grace_ms : 0)});
  settle_overflow();
}

// Each waiting client goes to a worker that has turned idle, so nobody is
// rejected while a worker is free; past its grace it is rejected.
void Master::settle_overflow() {
  int idle = overflow_.empty() ? 0 : count_pool().idle;
  int64_t now = monotonic_ms();
  for (auto it = overflow_.begin(); it != overflow_.end();) {
    if (idle > 0 && send_client(handoff_.master_end.get(), it->client.get())) {
      log::debug("handed a waiting client to a worker that turned idle");
      --idle;
    } else if (now >= it->deadline_ms || stop_ != Stop::none) {
      refuse_connection(it->client.release(), "ERR too many clients", terminator_bytes(config_.reply_terminator));
      ++retired_totals_.rejected;
      note_too_many_clients();
    } else {
      ++it;
      continue;
    }
    it = overflow_.erase(it);
  }
}

std::vector<int> Master::master_only_fds() const {
  std::vector<int> fds = s_.control ? s_.control->descriptors() : std::vector<int>{};
  if (s_.pid_file) {
    fds.push_back(s_.pid_file->lock_fd());
    fds.push_back(s_.pid_file->file_fd());
  }
  if (daemon::readiness_fd() >= 0) fds.push_back(daemon::readiness_fd());
  fds.push_back(handoff_.master_end.get());
  // With overflow = queue the master never hands a client over.
  if (config_.overflow != Overflow::reject) fds.push_back(handoff_.worker_end.get());
  // A waiting client belongs to the worker it is handed to, not to every
  // worker forked meanwhile (a copy would keep its connection open).
  for (const auto& waiting : overflow_) fds.push_back(waiting.client.get());
  return fds;
}

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
  board_.claim(slot);
  pid_t pid = fork();
  if (pid < 0) {
    log::error("%s", log::syscall_error("fork").c_str());
    board_.slot(slot).clear();
    next_spawn_ms_ = monotonic_ms() + 1000;
    return false;
  }
  if (pid == 0) {
    WorkerSetup setup{&config_,
                      &s_.listeners,
                      &board_,
                      slot,
                      static_cast<int>(getppid()),
                      master_only_fds(),
                      &s_.identity,
                      config_.auth_file.empty() ? nullptr : &s_.secret,
                      &access_,
                      config_.overflow == Overflow::reject ? handoff_.worker_end.get() : -1,
                      config_.service == ServiceKind::chat && chat_ ? &*chat_ : nullptr};
    run_worker(setup);
  }
  board_.slot(slot).set_pid(pid);
  children_.push_back({pid, slot, generation_, monotonic_ms()});
  log::info("worker %d started", static_cast<int>(pid));
  return true;
}

void Master::retire(Child& child) {
  child.retiring = true;
  child.retire_deadline_ms = monotonic_ms() + int64_t{config_.graceful_timeout} * 1000;
  // ESRCH: it died already and will be reaped.
  kill(child.pid, SIGUSR2);
}

void Master::retire_one_worker() {
  // An idle worker goes first, so no client waits on a retiring one.
  Child* pick = nullptr;
  for (auto& c : children_) {
    if (c.retiring || c.generation != generation_) continue;
    bool idle = board_.slot(c.slot).state() == WorkerState::idle;
    if (!pick || idle) pick = &c;
    if (idle) break;
  }
  if (pick) retire(*pick);
}

void Master::kill_overdue_workers() {
  int64_t now = monotonic_ms();
  for (auto& c : children_) {
    if (c.retire_deadline_ms > now) continue;
    log::warn("worker %d still busy after graceful_timeout: killing it", c.pid);
    kill(c.pid, SIGKILL);
    c.retire_deadline_ms = INT64_MAX;
  }
}

bool Master::adopt_listeners(const Config& next, std::vector<Listener>* adopted) {
  std::vector<Listener> fresh;
  for (const auto& text : next.listen) {
    auto same = std::find_if(s_.listeners.begin(), s_.listeners.end(),
                             [&](const Listener& l) { return l.address.text == text && !l.sockets.empty(); });
    if (same != s_.listeners.end()) continue;
    std::string error;
    auto address = parse_listen_address(text, &error);
    auto listener = address ? open_listener(*address, next.backlog, &error) : std::nullopt;
    if (!listener) {
      log::error("reload failed, nothing changed: %s", error.c_str());
      return false;
    }
    fresh.push_back(std::move(*listener));
  }
  // Unchanged addresses keep their sockets, so no client is refused.
  for (const auto& text : next.listen) {
    auto same = std::find_if(s_.listeners.begin(), s_.listeners.end(),
                             [&](const Listener& l) { return l.address.text == text && !l.sockets.empty(); });
    if (same == s_.listeners.end()) {
      auto made = std::find_if(fresh.begin(), fresh.end(), [&](const Listener& l) { return l.address.text == text; });
      adopted->push_back(std::move(*made));
      for (const auto& socket : adopted->back().sockets) log::info("listening on %s", socket.local.c_str());
      continue;
    }
    for (const auto& socket : same->sockets)
      if (socket.transport != Transport::udp) listen(socket.fd.get(), next.backlog);  // applies a new backlog
    adopted->push_back(std::move(*same));
  }
  for (const auto& old : s_.listeners) {
    if (old.sockets.empty()) continue;
    for (const auto& socket : old.sockets) log::info("no longer listening on %s", socket.local.c_str());
    remove_socket_file(old);
  }
  return true;
}

void Master::reload() {
  log::info("reloading the configuration");
  CliOutcome outcome = parse_command_line(s_.args, s_.cwd, geteuid() == 0);
  if (!outcome.proceed) {
    log::error("reload failed, nothing changed: %s", outcome.message.c_str());
    return;
  }
  Options next = std::move(outcome.options);
  std::string error, warning, secret;
  auto identity = resolve_identity(next.config.user, next.config.group, &error, &warning);
  if (!identity || (!next.config.auth_file.empty() && !load_secret(next.config.auth_file, &secret, &error))) {
    log::error("reload failed, nothing changed: %s", error.c_str());
    return;
  }
  if (next.config.pid_file != config_.pid_file || next.config.control_socket != config_.control_socket) {
    log::warn("pid_file and control_socket change only at restart: keeping %s", config_.pid_file.c_str());
    next.config.pid_file = config_.pid_file;
    next.config.control_socket = config_.control_socket;
  }
  // Logs are opened before anything else changes; a failure leaves the old ones.
  if (!log::open({log_target(next), next.config.log_level}, &error) || !log::open_access(next.config.access_log, &error)) {
    log::error("reload failed, nothing changed: %s", error.c_str());
    log::open({log_target(s_.options), config_.log_level}, nullptr);
    return;
  }
  if (!prepare_chat(next.config)) {
    log::error("reload failed, nothing changed: no chat ring");
    return;
  }
  if (chat_ && static_cast<size_t>(next.config.max_message) > chat_->max_message())
    log::warn("max_message %lld exceeds the chat ring's %zu bytes until restart", next.config.max_message,
              chat_->max_message());
  std::vector<Listener> adopted;
  if (!adopt_listeners(next.config, &adopted)) return;

  s_.listeners = std::move(adopted);
  s_.options = std::move(next);
  s_.identity = std::move(*identity);
  s_.secret = std::move(secret);
  access_ = parse_access_rules(config_);
  spawn_rate_ = 1;
  if (!warning.empty()) log::warn("%s", warning.c_str());
  ++generation_;
  target_workers_ = config_.workers;
  young_crashes_ = 0;
  next_spawn_ms_ = 0;
  for (auto& c : children_)
    if (!c.retiring) retire(c);
  log::info("reloaded: generation %u, service %s, %d workers", generation_, service_name(config_.service),
            config_.workers);
}

void Master::signal_children(int sig) {
  // ESRCH: the child died and is not reaped yet; nothing to tell it.
  for (const auto& c : children_) kill(c.pid, sig);
}

void Master::begin_stop(Stop kind) {
  if (stop_ == Stop::fast || stop_ == kind) return;
  int64_t now = monotonic_ms();
  if (kind == Stop::graceful) {
    for (const auto& listener : s_.listeners) refuse_new_connections(listener);
    signal_children(SIGQUIT);
    stop_deadline_ms_ = now + int64_t{config_.graceful_timeout} * 1000;
    log::info("graceful stop: serving queued clients, waiting up to %d s for busy workers", config_.graceful_timeout);
  } else {
    signal_children(SIGTERM);
    log::info("fast stop: closing every connection now");
    stop_deadline_ms_ = std::min(stop_ == Stop::graceful ? stop_deadline_ms_ : INT64_MAX, now + fast_stop_limit_ms);
    next_nudge_ms_ = now + fast_stop_nudge_ms;
  }
  stop_ = kind;
  // The workers hold their own copies; the master's are no longer needed.
  for (auto& listener : s_.listeners) listener.sockets.clear();
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
    for (const auto& socket : l.sockets) s.listeners.push_back(socket.local);
  s.totals = retired_totals_;
  for (const auto& c : children_) {
    const WorkerSlot& slot = board_.slot(c.slot);
    WorkerStatus w;
    w.pid = c.pid;
    w.state = c.retiring && slot.state() == WorkerState::idle ? WorkerState::exiting : slot.state();
    w.generation = c.generation;
    Counters counters = slot.counters();
    w.clients = counters.clients;
    if (w.state == WorkerState::busy) w.client = slot.client().text();
    w.since_ms = slot.since_ms();
    s.totals += counters;
    s.workers.push_back(std::move(w));
  }
  s.worker_deaths = worker_deaths_;
  return s;
}

std::string Master::answer_control(const std::string& request) const {
  if (request == "status") return render_status_text(snapshot());
  if (request == "status json") return render_status_json(snapshot());
  return "ERR unknown request\n";
}

}  // namespace ws
