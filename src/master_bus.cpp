// The master's side of the chat bus (bus.hpp): it maps the outbox and the
// bus's counters, forks the bus process and respawns it with back-off, stops
// it after the last worker, and puts an operator's broadcast in.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "wsserver/exit_codes.hpp"
#include "wsserver/log.hpp"
#include "wsserver/master.hpp"

namespace ws {
namespace {

// A bus that lived this long was not crash-looping: the next one starts at once.
constexpr int64_t bus_settled_ms = 10000;
constexpr int64_t max_bus_delay_ms = 10000;
// How long a stop waits for the bus to leave after SIGTERM before SIGKILL.
constexpr int64_t bus_stop_grace_ms = 2000;
// A broadcast gives up rather than wait longer for the ring's lock: the
// master never blocks on a lock a worker holds.
constexpr int broadcast_lock_ms = 100;

}  // namespace

void Master::prepare_bus() {
  if (config_.chat_bus.empty() || config_.service != ServiceKind::chat || !chat_) return;
  bus_url_ = parse_bus_url(config_.chat_bus, nullptr);  // validated with the config
  std::string error;
  outbox_ = ChatRing::create(chat_->capacity(), &error);
  if (outbox_) bus_stats_ = map_bus_stats(&error);
  if (!outbox_ || !bus_stats_) log::fatal(exit_code::os_error, "cannot set up the chat bus: %s", error.c_str());
  bus_origin_ = new_bus_origin();
  bus_stats_->since_ms.store(wall_clock_ms(), std::memory_order_relaxed);
}

void Master::tend_bus() {
  if (!bus_url_ || bus_pid_ > 0 || monotonic_ms() < next_bus_spawn_ms_) return;
  spawn_bus();
}

void Master::spawn_bus() {
  pid_t pid = fork();
  if (pid < 0) {
    log::error("%s", log::syscall_error("fork").c_str());
    next_bus_spawn_ms_ = monotonic_ms() + 1000;
    return;
  }
  if (pid == 0) {
    BusSetup setup{*bus_url_, bus_origin_, &*chat_, &*outbox_, bus_stats_,
                   static_cast<size_t>(config_.max_message), master_only_fds(), &s_.identity,
                   static_cast<int>(getppid())};
    // The bus serves no client: it must not keep a listener open either.
    for (const auto& listener : s_.listeners)
      for (const auto& socket : listener.sockets) setup.close_fds.push_back(socket.fd.get());
    setup.close_fds.push_back(handoff_.worker_end.get());
    run_bus(setup);
  }
  bus_pid_ = pid;
  bus_started_ms_ = monotonic_ms();
  log::info("chat bus process %d started for %s", static_cast<int>(pid), bus_url_->text().c_str());
}

void Master::on_bus_exit(int status) {
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exited with status " + std::to_string(WEXITSTATUS(status));
  // A dead bus takes nothing more: workers refuse messages until the next one connects.
  outbox_->detach(0);
  outbox_->set_accepting(false);
  bus_stats_->state.store(static_cast<uint32_t>(BusState::down), std::memory_order_relaxed);
  bus_stats_->in_flight.store(0, std::memory_order_relaxed);
  bus_pid_ = 0;
  if (stop_ != Stop::none) return log::info("chat bus process %s", how.c_str());
  ++bus_restarts_;
  int64_t lived = monotonic_ms() - bus_started_ms_;
  bus_crashes_ = lived >= bus_settled_ms ? 0 : bus_crashes_ + 1;
  int64_t delay = bus_crashes_ == 0 ? 0 : std::min(max_bus_delay_ms, int64_t{100} << std::min(bus_crashes_ - 1, 16));
  next_bus_spawn_ms_ = monotonic_ms() + delay;
  log::warn("chat bus process %s%s; restarting it in %.1f s", how.c_str(), clean ? " unasked" : "",
            static_cast<double>(delay) / 1000.0);
}

// True while the bus is still running (the stop waits for it).
bool Master::stop_bus() {
  if (bus_pid_ <= 0) return false;
  if (!bus_told_to_stop_) {
    kill(bus_pid_, SIGTERM);
    bus_told_to_stop_ = true;
    bus_kill_at_ms_ = monotonic_ms() + bus_stop_grace_ms;
  } else if (monotonic_ms() >= bus_kill_at_ms_) {
    log::warn("chat bus process %d did not stop: killing it", bus_pid_);
    kill(bus_pid_, SIGKILL);
    bus_kill_at_ms_ = INT64_MAX;
  }
  return true;
}

int64_t Master::next_bus_wake_ms() const {
  if (stop_ != Stop::none) return bus_pid_ > 0 && bus_told_to_stop_ ? bus_kill_at_ms_ : INT64_MAX;
  return bus_url_ && bus_pid_ <= 0 ? next_bus_spawn_ms_ : INT64_MAX;
}

BusSnapshot Master::bus_snapshot() const {
  if (!bus_url_) return {};
  BusSnapshot b = read_bus_stats(*bus_stats_);
  b.url = bus_url_->text();
  b.pid = bus_pid_;
  b.restarts = bus_restarts_;
  return b;
}

// Without a bus the text goes straight into the ring; with one, into the
// outbox like a client's message, so that it reaches every instance in
// Redis's order.
std::string Master::broadcast(std::string_view text) {
  if (config_.service != ServiceKind::chat || !chat_) return "ERR broadcast needs service = chat\n";
  ChatRing& target = outbox_ ? *outbox_ : *chat_;
  if (text.size() > static_cast<size_t>(config_.max_message) || text.size() > target.max_message())
    return "ERR message too long\n";
  if (outbox_ && !outbox_->accepting()) return "ERR chat unavailable\n";
  try {
    if (!target.publish_within(text, ChatRing::nobody, broadcast_lock_ms)) return "ERR chat ring busy, try again\n";
  } catch (const std::system_error& e) {
    log::error("broadcast failed: %s", e.what());
    return "ERR chat ring unusable\n";
  }
  log::info("broadcast of %zu bytes from the control socket", text.size());
  return "OK\n";
}

}  // namespace ws
