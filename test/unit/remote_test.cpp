// -s stop and -s quit against a stand-in master: they return once the
// master has exited, not merely once its pid file is gone.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../support/tempdir.hpp"
#include "../support/wait.hpp"
#include "wsserver/control.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/pidfile.hpp"
#include "wsserver/remote.hpp"

namespace {

// A stand-in master: it holds the pid file and listens on the control
// socket (which -s asks who the master is) and, on SIGQUIT or SIGINT,
// removes it and then takes a while to exit, as a real master does while it
// closes its listeners (and a sanitized one while it checks for leaks).
pid_t start_master(const std::string& pid_file, const std::string& control_socket) {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGQUIT);
  sigaddset(&stops, SIGINT);
  sigset_t old;
  sigprocmask(SIG_BLOCK, &stops, &old);
  pid_t pid = fork();
  if (pid == 0) {
    int running = 0;
    std::string error;
    auto file = ws::PidFile::lock(pid_file, &running, &error);
    if (!file || !file->write(static_cast<int>(getpid()), &error)) _exit(1);
    auto control = ws::ControlServer::open(control_socket, &error);
    if (!control) _exit(1);
    int sig = 0;
    sigwait(&stops, &sig);
    file->remove();
    timespec teardown{0, 300 * 1000 * 1000};
    nanosleep(&teardown, nullptr);
    _exit(0);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return pid;
}

}  // namespace

// Found by make asan: the daemon test saw the master alive after -s quit
// had returned, while it was still tearing down (checking for leaks).
TEST_CASE("stop and quit return only once the master has exited") {
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid");
  for (const char* action : {"quit", "stop"}) {
    INFO(action);
    pid_t master = start_master(pid_file, dir.file("w.sock"));
    REQUIRE(master > 0);
    REQUIRE(test::wait_until([&] { return ws::running_master(pid_file) == master; }));
    ws::Options options;
    options.signal_action = action;
    options.config.pid_file = pid_file;
    options.config.control_socket = dir.file("w.sock");
    CHECK(ws::act_on_master(options) == ws::exit_code::ok);
    int status = 0;
    bool gone = waitpid(master, &status, WNOHANG) == master;
    CHECK(gone);
    if (!gone) waitpid(master, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
}
