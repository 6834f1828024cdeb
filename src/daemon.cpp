#include "wsserver/daemon.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "wsserver/exit_codes.hpp"
#include "wsserver/log.hpp"

namespace ws::daemon {
namespace {

int ready_fd = -1;

// The launcher: waits for the daemon's verdict. A line "0" means ready;
// "CODE message" is a failure; EOF without a verdict means it died.
[[noreturn]] void wait_for_verdict(int fd, pid_t intermediate) {
  std::string verdict;
  char buf[512];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      verdict.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  // The intermediate child exits at once; reap it so it is no zombie.
  waitpid(intermediate, nullptr, 0);
  if (verdict.empty()) {
    std::fprintf(stderr, "wsserver: the daemon exited during start-up (see the log)\n");
    std::exit(exit_code::failure);
  }
  int code = std::atoi(verdict.c_str());
  if (code != 0) {
    size_t space = verdict.find(' ');
    std::fprintf(stderr, "wsserver: %s\n", space == std::string::npos ? "start-up failed" : verdict.c_str() + space + 1);
  }
  std::exit(code);
}

void send_verdict(const std::string& text) {
  if (ready_fd < 0) return;
  // If the launcher is gone there is nobody left to tell.
  ssize_t ignored = write(ready_fd, text.data(), text.size());
  (void)ignored;
  close(ready_fd);
  ready_fd = -1;
}

void fatal_hook(int code, const char* line) { report_failure(code, line); }

}  // namespace

void detach() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) log::fatal(exit_code::os_error, "%s", log::syscall_error("pipe2").c_str());
  pid_t child = fork();
  if (child < 0) log::fatal(exit_code::os_error, "%s", log::syscall_error("fork").c_str());
  if (child > 0) {
    close(fds[1]);
    wait_for_verdict(fds[0], child);
  }
  close(fds[0]);
  ready_fd = fds[1];
  log::set_fatal_hook(fatal_hook);
  // A new session leaves the terminal behind; the second fork makes sure
  // the daemon can never acquire one again.
  if (setsid() < 0) log::fatal(exit_code::os_error, "%s", log::syscall_error("setsid").c_str());
  pid_t grandchild = fork();
  if (grandchild < 0) log::fatal(exit_code::os_error, "%s", log::syscall_error("fork").c_str());
  if (grandchild > 0) _exit(0);
  // chdir("/") cannot fail in practice; a daemon must not pin a mount point.
  if (chdir("/") != 0) log::warn("%s", log::syscall_error("chdir").c_str());
  umask(027);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
}

void report_ready() {
  send_verdict("0");
  log::set_fatal_hook(nullptr);
}

void report_failure(int code, const std::string& message) { send_verdict(std::to_string(code) + " " + message); }

int readiness_fd() { return ready_fd; }

}  // namespace ws::daemon
