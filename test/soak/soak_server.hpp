// soak_server.hpp: one wsserver instance for the soak: its config (two
// variants that reloads alternate between), its process, its control socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace soak {

class SoakServer {
 public:
  // `variants`: config file texts; the first is used at start, each reload
  // switches to the next.
  SoakServer(std::string name, std::string binary, std::string dir, std::vector<std::string> variants);
  ~SoakServer();
  SoakServer(const SoakServer&) = delete;
  SoakServer& operator=(const SoakServer&) = delete;

  // Starts it and waits until its control socket answers; false with *error.
  bool start(std::string* error);
  // Writes the next config variant and sends SIGHUP.
  void reload();
  void signal(int sig) const;
  // Graceful stop (TERM): the master's exit status, or nullopt past `timeout` (then it is killed).
  std::optional<int> stop(std::chrono::seconds timeout);

  const std::string& name() const { return name_; }
  int pid() const { return pid_; }
  std::string control() const { return dir_ + "/" + name_ + ".sock"; }
  std::string log_path() const { return dir_ + "/" + name_ + ".log"; }
  std::string access_log_path() const { return dir_ + "/" + name_ + "-access.log"; }
  // The listening addresses in config order, as -s status lists them.
  const std::vector<std::string>& listeners() const { return listeners_; }
  std::vector<int> workers() const;

 private:
  void write_config(size_t variant) const;

  std::string name_, binary_, dir_;
  std::vector<std::string> variants_;
  size_t variant_ = 0;
  int pid_ = -1;
  bool running_ = false;
  std::vector<std::string> listeners_;
};

}  // namespace soak
