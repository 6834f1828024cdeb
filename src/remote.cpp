#include "wsserver/remote.hpp"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <iterator>
#include <thread>

#include "wsserver/control.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/pidfile.hpp"
#include "wsserver/upgrade.hpp"

namespace ws {
namespace {

// LSB: the status of the service is unknown (running, but not answering).
constexpr int status_unknown = 4;

// A zombie has exited too: it holds no descriptor and no port, and its
// parent (init, a service manager) reaps it when it likes.
bool exited(int pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t name_end = stat.rfind(')');  // the state follows the command name, which may hold anything
  return name_end != std::string::npos && name_end + 2 < stat.size() &&
         (stat[name_end + 2] == 'Z' || stat[name_end + 2] == 'X');
}

// The master removes its pid file first and closes its listeners only as it
// returns from main() (a sanitized build then checks for leaks too), so a
// restart right after a gone pid file could find the port still taken. Waits
// for the process itself.
bool wait_until_gone(int pid, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!exited(pid)) {
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

// The pid file may have been rewritten by someone who can write to its
// directory: the master's control socket (bound by the master itself, 0600)
// says which pid really is the master. Nothing is signalled on doubt.
bool confirmed(const Options& o, int pid) {
  std::string error;
  // A master binds its control socket just after it writes its pid file.
  int master = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while ((master = control_peer_pid(o.config.control_socket, 5000, &error)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (master == 0) {
    std::fprintf(stderr, "wsserver: not signalling pid %d: cannot confirm it is the master: %s\n", pid, error.c_str());
    return false;
  }
  if (master != pid) {
    std::fprintf(stderr,
                 "wsserver: not signalling pid %d: the pid file %s names it, but the master on the control socket %s "
                 "is pid %d\n",
                 pid, o.config.pid_file.c_str(), o.config.control_socket.c_str(), master);
    return false;
  }
  return true;
}

// The answer comes once the new master is ready or has failed: within
// upgrade::ready_timeout_ms, plus a margin for a loaded machine.
int request_upgrade(const Options& o, int pid) {
  if (!confirmed(o, pid)) return exit_code::failure;
  std::string error;
  auto answer = query_control(o.config.control_socket, "upgrade", upgrade::ready_timeout_ms + 15000, &error);
  if (!answer) {
    std::fprintf(stderr, "wsserver: upgrade of pid %d: %s\n", pid, error.c_str());
    return exit_code::failure;
  }
  if (answer->rfind("OK ", 0) == 0) {
    std::printf("wsserver: %s", answer->c_str() + 3);
    return exit_code::ok;
  }
  std::fprintf(stderr, "wsserver: %s", answer->rfind("ERR ", 0) == 0 ? answer->c_str() + 4 : answer->c_str());
  if (answer->empty() || answer->back() != '\n') std::fputc('\n', stderr);
  return exit_code::failure;
}

// The old master answers status on its CONTROL.oldbin; nothing else is
// sent to a master whose upgrade is under way.
int during_upgrade(const Options& o, int old_pid) {
  if (o.signal_action == "status") {
    Options old = o;
    old.config.control_socket += ".oldbin";
    return status(old, old_pid);
  }
  std::fprintf(stderr, "wsserver: an upgrade is under way (old master pid %d, pid file %s.oldbin): try again once it is done\n",
               old_pid, o.config.pid_file.c_str());
  return exit_code::failure;
}

}  // namespace

int act_on_master(const Options& o) {
  const std::string& action = o.signal_action;
  int pid = running_master(o.config.pid_file);
  // Mid-upgrade the old master holds PIDFILE.oldbin, and the new one has no pid file yet.
  int old_pid = pid > 0 ? 0 : running_master(o.config.pid_file + ".oldbin");
  if (old_pid > 0) return during_upgrade(o, old_pid);
  if (pid <= 0) {
    if (action == "status" && o.json) std::puts("{\"running\":false}");
    else std::fprintf(action == "status" ? stdout : stderr, "wsserver is not running (pid file %s)\n", o.config.pid_file.c_str());
    return exit_code::not_running;
  }
  if (action == "status") return status(o, pid);
  if (action == "upgrade") return request_upgrade(o, pid);
  int sig = action == "stop" ? SIGINT : action == "quit" ? SIGQUIT : action == "reload" ? SIGHUP : SIGUSR1;
  if (!confirmed(o, pid)) return exit_code::failure;
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
  if (!wait_until_gone(pid, limit)) {
    std::fprintf(stderr, "wsserver: pid %d still running after %d s\n", pid, limit);
    return exit_code::failure;
  }
  std::printf("wsserver: stopped (pid %d)\n", pid);
  return exit_code::ok;
}

}  // namespace ws
