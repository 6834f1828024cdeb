#include "wsserver/remote.hpp"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "wsserver/control.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/pidfile.hpp"

namespace ws {
namespace {

// LSB: the status of the service is unknown (running, but not answering).
constexpr int status_unknown = 4;

// True once `pid` has exited, even if its parent has not reaped it yet.
bool exited(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  return close == std::string::npos || (close + 2 < line.size() && (line[close + 2] == 'Z' || line[close + 2] == 'X'));
}

// Gone means the process itself, not only its pid file: the master removes
// the file a moment before it exits.
bool wait_until_gone(const std::string& pid_file, int pid, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (running_master(pid_file) != 0 || !exited(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int status(const Options& o, int pid) {
  std::string error;
  auto answer = query_control(o.config.control_socket, o.json ? "status json" : "status", 5000, &error);
  if (!answer) {
    std::fprintf(stderr, "wsserver: running as pid %d, but: %s\n", pid, error.c_str());
    return status_unknown;
  }
  std::fputs(answer->c_str(), stdout);
  return exit_code::ok;
}

}  // namespace

int act_on_master(const Options& o) {
  const std::string& action = o.signal_action;
  int pid = running_master(o.config.pid_file);
  if (pid <= 0) {
    if (action == "status" && o.json) std::puts("{\"running\":false}");
    else std::fprintf(action == "status" ? stdout : stderr, "wsserver is not running (pid file %s)\n", o.config.pid_file.c_str());
    return exit_code::not_running;
  }
  if (action == "status") return status(o, pid);
  int sig = action == "stop" ? SIGINT : action == "quit" ? SIGQUIT : action == "reload" ? SIGHUP : SIGUSR1;
  if (kill(pid, sig) != 0) {
    std::perror("wsserver: kill");
    return exit_code::failure;
  }
  if (action == "reload" || action == "reopen") {
    std::printf("wsserver: %s signalled to pid %d\n", action.c_str(), pid);
    return exit_code::ok;
  }
  // A graceful stop may take graceful_timeout; a fast one a few seconds.
  int limit = (action == "quit" ? o.config.graceful_timeout : 0) + 10;
  if (!wait_until_gone(o.config.pid_file, pid, limit)) {
    std::fprintf(stderr, "wsserver: pid %d still running after %d s\n", pid, limit);
    return exit_code::failure;
  }
  std::printf("wsserver: stopped (pid %d)\n", pid);
  return exit_code::ok;
}

}  // namespace ws
