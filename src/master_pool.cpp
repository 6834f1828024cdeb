// The master's pool: starting, retiring and replacing workers, keeping the
// spares Apache's prefork way, starting a worker for every client waiting in
// a burst, and the clients that overflow a full pool.
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "wsserver/connection.hpp"
#include "wsserver/daemon.hpp"
#include "wsserver/log.hpp"
#include "wsserver/master.hpp"
#include "wsserver/sd_notify.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/ws_handshake.hpp"

namespace ws {
namespace {

// Pool maintenance runs once a second, as Apache's prefork does.
constexpr int64_t tick_ms = 1000;
constexpr int max_spawn_rate = 32;
constexpr int64_t too_many_log_interval_ms = 10000;
// With every worker busy but one idle, the idle one takes the next client;
// the master looks again after this pause instead of spinning on the listener.
constexpr int64_t overflow_pause_ms = 10;
// An overflow client waits this long for a worker that is finishing its
// client before it is rejected.
constexpr int64_t overflow_grace_ms = 200;
constexpr size_t max_overflow = 64;
// Out of descriptors, the master stops taking overflow clients for a while
// (the listener stays readable, so retrying at once would spin).
constexpr int64_t resource_pause_ms = 200;
constexpr int64_t resource_log_interval_ms = 5000;
// Forks in one turn of the loop, so that a burst of a thousand still lets the
// master reap and answer in between.
constexpr int max_forks_per_turn = 64;
// After a burst the idle excess over max_spare retires a sixth a second, at
// least 4: a thousand are gone in under half a minute, a dozen in three seconds.
constexpr int retire_fraction = 6;
constexpr int min_retire_batch = 4;

bool out_of_resources(int err) { return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM; }

}  // namespace

int Master::live_workers() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(), [this](const Child& c) {
    return !c.retiring && c.generation == generation_;
  }));
}

// Every live worker takes room, old generations included: a reload starts
// new workers only as old ones leave, so max_workers holds through any
// number of reloads.
bool Master::room_for_worker() const { return static_cast<int>(children_.size()) < config_.max_workers; }

void Master::tend_pool() {
  int64_t now = monotonic_ms();
  PoolCounts pool = count_pool();
  waiting_ = count_waiting(pool);
  if (waiting_ > 0) absorb_burst(pool);
  if (now >= next_tick_ms_) {
    keep_spares();
    next_tick_ms_ = now + tick_ms;
  }
  int live = live_workers();
  // The list is the master's and read-only in the child: a child that built
  // its own would write to heap pages it shares with the master, and each
  // page a new process writes costs a copy (see spawn_worker).
  if (live < target_workers_) fork_closes_ = master_only_fds();
  if (target_workers_ - live >= 2) stay_on_cpu();
  for (int forks = 0; forks < max_forks_per_turn && live < target_workers_ && room_for_worker() &&
                      monotonic_ms() >= next_spawn_ms_ && spawn_worker();
       ++forks)
    ++live;
  release_cpu();
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

// The kernel counts a TCP listener's queue; a unix or udp socket that is
// readable while no worker is free to take from it counts as one.
int Master::count_waiting(const PoolCounts& pool) {
  int waiting = 0;
  for (auto& listener : s_.listeners)
    for (auto& socket : listener.sockets) {
      int queued = accept_queue_length(socket);
      if (queued >= 0) socket.queue_peak = std::max(socket.queue_peak, queued);
      if (queued < 0 && pool.idle == 0) queued = socket_readable(socket) ? 1 : 0;
      waiting += std::max(queued, 0);
    }
  return waiting;
}

// A burst: one worker for every client that no idle, starting or pending
// worker will take, all at once within max_workers. The respawn back-off
// still paces the forks (tend_pool), so workers dying young cannot loop.
void Master::absorb_burst(const PoolCounts& pool) {
  int pending = std::max(0, target_workers_ - pool.total);
  int need = waiting_ - pool.idle - pending;
  if (need <= 0) return;
  int room = config_.max_workers - static_cast<int>(children_.size()) - pending;
  int add = std::min(need, room);
  if (add <= 0) return;  // a full pool: keep_spares says so, and overflow handles the client
  target_workers_ += add;
  spawn_rate_ = 1;
  if (add >= 8) log::info("%d clients waiting: starting %d workers at once (%d in all)", waiting_, add, target_workers_);
}

// The listeners are watched only while a fork could follow (room, no
// back-off): a client waiting for a full pool would keep them readable.
bool Master::watching_listeners() const {
  return stop_ == Stop::none && room_for_worker() && monotonic_ms() >= next_spawn_ms_;
}

// Apache's prefork rule: fewer than min_spare idle workers start 1, then 2,
// 4 ... up to 32 a second while the shortage lasts. More than max_spare
// retire in batches (a burst's thousand must not take a quarter of an hour).
void Master::keep_spares() {
  PoolCounts pool = count_pool();
  if (pool.total < target_workers_) return;  // replacements are on their way
  if (pool.idle > config_.max_spare && target_workers_ > 1) {
    int excess = pool.idle - config_.max_spare;
    retire_idle_workers(std::min(excess, std::max(min_retire_batch, (excess + retire_fraction - 1) / retire_fraction)));
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
  return stop_ == Stop::none && config_.overflow == Overflow::reject && !room_for_worker();
}

void Master::take_overflow(int listen_fd) {
  if (count_pool().idle > 0) {
    overflow_pause_until_ms_ = monotonic_ms() + overflow_pause_ms;
    return;
  }
  Fd client(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client) {
    if (out_of_resources(errno)) pause_overflow_for_resources(errno);
    return;  // otherwise a worker was quicker, or the client left
  }
  int64_t deadline = monotonic_ms() + (overflow_.size() < max_overflow ? overflow_grace_ms : 0);
  overflow_.push_back({std::move(client), deadline, transport_of(listen_fd).tag()});
  settle_overflow();
}

ListenerTransport Master::transport_of(int listen_fd) const {
  for (const auto& listener : s_.listeners)
    for (const auto& socket : listener.sockets)
      if (socket.fd.get() == listen_fd) return listener.address.transport;
  return {};
}

void Master::pause_overflow_for_resources(int err) {
  int64_t now = monotonic_ms();
  overflow_pause_until_ms_ = now + resource_pause_ms;
  if (now - last_resource_log_ms_ < resource_log_interval_ms) return;
  last_resource_log_ms_ = now;
  log::warn("cannot accept: %s; pausing accepts", std::strerror(err));
}

// Each waiting client goes to a worker that has turned idle, so nobody is
// rejected while a worker is free; past its grace it is rejected.
void Master::settle_overflow() {
  int idle = overflow_.empty() ? 0 : count_pool().idle;
  int64_t now = monotonic_ms();
  for (auto it = overflow_.begin(); it != overflow_.end();) {
    if (idle > 0 && send_client(handoff_.master_end.get(), it->client.get(), it->transport_tag)) {
      log::debug("handed a waiting client to a worker that turned idle");
      --idle;
    } else if (now >= it->deadline_ms || stop_ != Stop::none) {
      if (ListenerTransport::from_tag(it->transport_tag).websocket)
        refuse_connection(it->client.release(), early_refusal(503, "ERR too many clients"), "");
      else
        refuse_connection(it->client.release(), "ERR too many clients", terminator_bytes(config_.reply_terminator));
      ++retired_totals_.rejected;
      ++retired_totals_.notices[static_cast<size_t>(Notice::too_many_clients)];
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
  if (s_.metrics)
    for (int fd : s_.metrics->descriptors()) fds.push_back(fd);
  if (s_.pid_file) {
    fds.push_back(s_.pid_file->lock_fd());
    fds.push_back(s_.pid_file->file_fd());
  }
  if (daemon::readiness_fd() >= 0) fds.push_back(daemon::readiness_fd());
  if (sd::descriptor() >= 0) fds.push_back(sd::descriptor());
  if (upgrade_) fds.push_back(upgrade_->channel.fd());
  fds.push_back(handoff_.master_end.get());
  // With overflow = queue the master never hands a client over.
  if (config_.overflow != Overflow::reject) fds.push_back(handoff_.worker_end.get());
  // A waiting client belongs to the worker it is handed to, not to every
  // worker forked meanwhile (a copy would keep its connection open).
  for (const auto& waiting : overflow_) fds.push_back(waiting.client.get());
  return fds;
}

// For a batch of forks the master stays on the CPU it is on. A fork
// write-protects the master's pages, and each page it writes afterwards is
// copied; both make the CPUs that may hold its old page-table entries flush
// them, and every CPU the master has run on since is interrupted for that.
// On this project's 2-core VM, a burst of 1,000 forks took half the master's
// CPU time and 40 % less of the machine's with the master kept on one CPU.
// Each child takes the master's CPUs back as its first act.
void Master::stay_on_cpu() {
  cpu_set_t all, one;
  int cpu = sched_getcpu();
  if (cpu < 0 || sched_getaffinity(0, sizeof all, &all) != 0) return;  // more CPUs than cpu_set_t: not worth it
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) == 0) fork_cpus_ = all;
}

void Master::release_cpu() {
  if (!fork_cpus_) return;
  sched_setaffinity(0, sizeof *fork_cpus_, &*fork_cpus_);
  fork_cpus_.reset();
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
  // _Fork, not fork: the master is single-threaded and registers no fork
  // handlers, and fork's bookkeeping for threads and handlers writes pages
  // that parent and child share, each a page copy per worker in a burst.
  pid_t pid = _Fork();
  if (pid < 0) {
    log::error("%s", log::syscall_error("fork").c_str());
    board_.slot(slot).clear();
    next_spawn_ms_ = monotonic_ms() + 1000;
    return false;
  }
  if (pid == 0) {
    if (fork_cpus_) sched_setaffinity(0, sizeof *fork_cpus_, &*fork_cpus_);
    WorkerSetup setup{&config_,
                      &s_.listeners,
                      &board_,
                      slot,
                      static_cast<int>(getppid()),
                      fork_closes_,
                      &s_.identity,
                      config_.auth_file.empty() ? nullptr : &s_.secret,
                      &access_,
                      config_.overflow == Overflow::reject ? handoff_.worker_end.get() : -1,
                      config_.service == ServiceKind::chat && chat_ ? &*chat_ : nullptr,
                      &auth_limit_,
                      config_.service == ServiceKind::chat && outbox_ ? &*outbox_ : nullptr,
                      &s_.ws_page};
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
  kill(child.pid, worker_signal::retire);
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

// Idle workers only, oldest first (they have served the most clients): a
// serving worker is never cut short by a shrink.
void Master::retire_idle_workers(int count) {
  for (auto& c : children_) {
    if (count <= 0 || target_workers_ <= 1) return;
    if (c.retiring || c.generation != generation_ || board_.slot(c.slot).state() != WorkerState::idle) continue;
    retire(c);
    --target_workers_;
    --count;
  }
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

}  // namespace ws
