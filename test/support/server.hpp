// server.hpp: start the real wsserver binary for a test and clean it up by
// pid, whatever the test does to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tempdir.hpp"

namespace test {

using namespace std::chrono_literals;

// The binary under test: $WSSERVER, else build/wsserver.
std::string wsserver_binary();
// The directory holding it (and the other build outputs).
std::string build_dir();
// The port of a listen address as -s status and Server::addresses() give it
// ("127.0.0.1:4000", "[::]:4000").
uint16_t port_of(const std::string& address);
// "LD_PRELOAD=..." for the server of a test whose windows of time must stay
// open: its monotonic clock runs 50 times slower (test/support/slow_clock.cpp).
std::string slow_clock_preload();

struct RunResult {
  int status = -1;  // exit status, 128 + signal, or -1 on timeout
  std::string out, err;
};

// Runs wsserver to completion (for -t, -V, failures at start...), with
// `env` ("NAME=value") added to its environment.
RunResult run_wsserver(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 10s,
                       const std::vector<std::string>& env = {});

// True, having printed a SKIPPED line saying `why`, when not root: for
// tests that need a second user or to drop privileges.
bool skip_unless_root(const char* why);

// Kills a daemon (`wsserver -d`, found through its pid file) and its
// workers by pid when it goes out of scope, whatever the test did.
struct DaemonGuard {
  std::string pid_file;
  ~DaemonGuard();
};

class Server {
 public:
  // Starts `wsserver -c DIR/wsserver.conf ARGS` in the foreground, in its own
  // process group, with stderr in DIR/server.log, listening on 127.0.0.1:0
  // unless ARGS or the config name listeners, and waits until it listens.
  // min_spare is 0 unless ARGS or the config set it, so the pool keeps the
  // size `workers` gives it. The pid file is DIR/wsserver.pid unless ARGS give --pid_file (a path
  // ending in .pid); the config must not set pid_file or control_socket.
  // "{dir}" in ARGS or the config stands for that temporary directory.
  // `env` ("NAME=value") is added to its environment.
  explicit Server(std::vector<std::string> args = {}, const std::string& config = "",
                  const std::vector<std::string>& env = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int pid() const { return pid_; }
  // `-c CONFIG --pid_file PIDFILE` plus `extra`: to run `wsserver -s ...`
  // against this server.
  std::vector<std::string> same_files(std::vector<std::string> extra) const;
  const std::string& pid_file() const { return pid_path_; }
  // The port of the i-th socket the server listens on (from its log).
  uint16_t port(size_t i = 0) const;
  const std::vector<std::string>& addresses() const { return addresses_; }
  const TempDir& dir() const { return dir_; }
  // Its log: stderr, or the file named by --log_file.
  std::string log() const;
  size_t log_count(std::string_view text) const;
  // Waits until the log holds `text` at least `count` times.
  bool wait_log(std::string_view text, std::chrono::milliseconds timeout = 5s, size_t count = 1) const;
  std::vector<int> workers() const;
  // Waits until `count` worker processes run and none is still setting
  // itself up (dropping privileges, installing its signal handlers): a
  // process exists a moment before it is ready, longer under ASan.
  bool wait_workers(size_t count, std::chrono::milliseconds timeout = 5s) const;
  void signal(int sig) const;
  // The master's exit status (128 + signal if killed), or nullopt if it is
  // still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s);

 private:
  bool any_worker_starting() const;

  // Stops the master and every process of its group, by pid.
  void stop_everything();

  TempDir dir_;
  int pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::vector<std::string> addresses_;
  std::string log_path_;  // server.log (its stderr), or the --log_file it was given
  std::string control_path_;
  std::string pid_path_;  // DIR/wsserver.pid unless --pid_file says otherwise
};

}  // namespace test
