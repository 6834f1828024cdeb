// The master's binary upgrade (SIGUSR2, `-s upgrade`) and its notifications
// to systemd (sd_notify(3)). An upgrade: the pid file and control socket
// move to *.oldbin, so that the new master starts as if alone; the new
// master gets every listening socket and says READY=1 on a private channel;
// then the old master hands over (a graceful stop that leaves the sockets
// alone) and tells systemd MAINPID=. Any failure first (no binary, bad
// config, death or silence for 30 s) puts the files back: the old master
// serves on as if nothing happened.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "wsserver/log.hpp"
#include "wsserver/master.hpp"
#include "wsserver/sd_notify.hpp"

namespace ws {
namespace {

constexpr const char* aside = ".oldbin";
// STATUS= is sent at most this often (when it changed).
constexpr int64_t status_interval_ms = 1000;

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "the new master exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "the new master was killed by signal " + std::to_string(WTERMSIG(status));
  return "the new master stopped";
}

}  // namespace

// "" once started; otherwise why not.
std::string Master::start_upgrade() {
  if (stop_ != Stop::none) return "the master is stopping";
  if (upgrade_) return "an upgrade is already under way (new master pid " + std::to_string(upgrade_->pid) + ")";
  std::string error;
  auto channel = upgrade::Channel::open(&error);
  if (!channel || !move_files_aside(&error)) return error;
  release_metrics();
  int pid = upgrade::start(upgrade_launch(*channel), &error);
  if (pid < 0) {
    restore_files();
    reclaim_metrics();
    return error;
  }
  upgrade_ = UpgradeRun{pid, monotonic_ms() + upgrade::ready_timeout_ms, std::move(*channel), ""};
  log::info("upgrade: started %s as pid %d; pid file now %s%s", s_.binary.c_str(), pid, config_.pid_file.c_str(), aside);
  return "";
}

upgrade::Launch Master::upgrade_launch(const upgrade::Channel& channel) const {
  upgrade::Launch l{s_.binary, s_.args, s_.cwd, {}, {}, channel.address(), sd::manager_socket(), sd::watchdog_usec()};
  for (const auto& listener : s_.listeners)
    for (const auto& socket : listener.sockets) {
      l.sockets.push_back(socket.fd.get());
      l.names.push_back(socket.managed ? "managed" : handed_over_name);
    }
  return l;
}

bool Master::move_files_aside(std::string* error) {
  if (!s_.pid_file->rename_to(config_.pid_file + aside, error)) return false;
  if (!s_.control || s_.control->rename_to(config_.control_socket + aside, error)) return true;
  std::string ignored;
  s_.pid_file->rename_to(config_.pid_file, &ignored);
  return false;
}

// Over whatever a failed new master left at the usual names.
void Master::restore_files() {
  std::string error;
  if (!s_.pid_file->rename_to(config_.pid_file, &error)) log::error("%s", error.c_str());
  if (s_.control && !s_.control->rename_to(config_.control_socket, &error)) log::error("%s", error.c_str());
}

void Master::watch_upgrade() {
  if (!upgrade_) return;
  if (upgrade_->channel.read(upgrade_->pid, &upgrade_->status)) return upgrade_succeeded();
  if (monotonic_ms() < upgrade_->deadline_ms) return;
  // Killed, it can do nothing more to the files we take back; its workers
  // finish their clients and leave.
  kill(upgrade_->pid, SIGKILL);
  upgrade_failed("the new master was not ready within " + std::to_string(upgrade::ready_timeout_ms / 1000) + " s" +
                 (upgrade_->status.empty() ? "" : ": " + upgrade_->status));
}

// Reaped: what it said before it died (read now) is the reason.
void Master::upgrade_exited(int status) {
  upgrade_->channel.read(upgrade_->pid, &upgrade_->status);
  upgrade_failed(upgrade_->status.empty() ? describe_exit(status) : upgrade_->status);
}

void Master::upgrade_failed(const std::string& why) {
  restore_files();
  reclaim_metrics();
  log::error("upgrade failed, serving on: %s", why.c_str());
  if (s_.control) s_.control->answer_held("ERR upgrade failed: " + why + "\n");
  upgrade_.reset();
}

// The new master binds metrics_listen itself (it is no listener to hand
// over): the old one lets go of the port first and takes it back if the
// upgrade fails. Scrapes in between are refused.
void Master::release_metrics() {
  if (!s_.metrics) return;
  s_.metrics.reset();
  log::info("upgrade: metrics endpoint closed for the new master");
}

void Master::reclaim_metrics() {
  if (config_.metrics_listen.empty() || s_.metrics) return;
  std::string error;
  s_.metrics = MetricsServer::open(config_.metrics_listen, &error);
  if (!s_.metrics) {
    log::error("metrics_listen: %s; no metrics endpoint until a reload", error.c_str());
    return;
  }
  for (const auto& local : s_.metrics->local()) log::info("metrics on http://%s/metrics", local.c_str());
}

void Master::upgrade_succeeded() {
  int pid = upgrade_->pid;
  upgrade_.reset();
  log::info("upgrade: new master %d is ready; stopping gracefully", pid);
  // The manager watches the new master from now on, and hears nothing more from us.
  sd::notify("MAINPID=" + std::to_string(pid) + "\nSTATUS=upgraded: new master pid " + std::to_string(pid));
  sd::stop_notifying();
  if (s_.control) s_.control->answer_held("OK upgraded: new master pid " + std::to_string(pid) + "\n");
  begin_stop(Stop::handover);
}

// The old master's stop: its workers retire (finish their client, take no
// other) and its copies of the listening sockets close. Nothing is shut
// down, filtered or unlinked: the sockets and their files are the new
// master's now.
void Master::hand_over() {
  for (auto& c : children_)
    if (!c.retiring) retire(c);
  s_.listeners.clear();
}

std::string Master::status_line() const {
  int busy = 0, idle = 0;
  for (const auto& c : children_) {
    WorkerState state = board_.slot(c.slot).state();
    busy += state == WorkerState::busy;
    idle += state == WorkerState::idle;
  }
  std::string what = stop_ == Stop::none ? "serving" : "stopping";
  return what + ": " + std::to_string(children_.size()) + " workers, " + std::to_string(busy) + " busy, " +
         std::to_string(idle) + " idle";
}

void Master::notify_manager() {
  if (!sd::enabled()) return;
  int64_t now = monotonic_ms();
  if (sd::watchdog_interval_ms() > 0 && now >= next_watchdog_ms_) {
    sd::notify("WATCHDOG=1");
    next_watchdog_ms_ = now + sd::watchdog_interval_ms();
  }
  if (now < next_status_ms_) return;
  std::string line = status_line();
  if (line == last_status_) return;
  sd::notify("STATUS=" + line);
  last_status_ = line;
  next_status_ms_ = now + status_interval_ms;
}

void Master::notify_reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t usec = int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
  sd::notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace ws
