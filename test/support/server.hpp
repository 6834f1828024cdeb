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

struct RunResult {
  int status = -1;  // exit status, 128 + signal, or -1 on timeout
  std::string out, err;
};

// Runs wsserver to completion (for -t, -V, failures at start...).
RunResult run_wsserver(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 10s);

class Server {
 public:
  // Starts `wsserver -c DIR/wsserver.conf ARGS` in the foreground, in its own
  // process group, with stderr in DIR/server.log, listening on 127.0.0.1:0
  // unless ARGS or the config name listeners, and waits until it listens.
  explicit Server(std::vector<std::string> args = {}, const std::string& config = "");
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int pid() const { return pid_; }
  // The port of the i-th socket the server listens on (from its log).
  uint16_t port(size_t i = 0) const;
  const std::vector<std::string>& addresses() const { return addresses_; }
  const TempDir& dir() const { return dir_; }
  std::string log() const;
  size_t log_count(std::string_view text) const;
  // Waits until the log holds `text` at least `count` times.
  bool wait_log(std::string_view text, std::chrono::milliseconds timeout = 5s, size_t count = 1) const;
  std::vector<int> workers() const;
  bool wait_workers(size_t count, std::chrono::milliseconds timeout = 5s) const;
  void signal(int sig) const;
  // The master's exit status (128 + signal if killed), or nullopt if it is
  // still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s);

 private:
  TempDir dir_;
  int pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::vector<std::string> addresses_;
};

}  // namespace test
