#include "soak_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "../support/proc.hpp"
#include "../support/status_json.hpp"
#include "../support/wait.hpp"
#include "wire.hpp"

namespace soak {
namespace {

std::string expand(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir);
  return text;
}

}  // namespace

SoakServer::SoakServer(std::string name, std::string binary, std::string dir, std::vector<std::string> variants)
    : name_(std::move(name)), binary_(std::move(binary)), dir_(std::move(dir)), variants_(std::move(variants)) {}

SoakServer::~SoakServer() {
  if (!running_) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

void SoakServer::write_config(size_t variant) const {
  std::string path = dir_ + "/" + name_ + ".conf";
  std::ofstream(path + ".new") << expand(variants_[variant], dir_) << "pid_file = \"" << dir_ << "/" << name_
                               << ".pid\"\nlog_file = \"" << log_path() << "\"\n";
  // Whole or not at all: a reload must never read half a file.
  std::rename((path + ".new").c_str(), path.c_str());
}

bool SoakServer::start(std::string* error) {
  write_config(0);
  std::string config = dir_ + "/" + name_ + ".conf", out = dir_ + "/" + name_ + ".stderr";
  pid_ = fork();
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid_ == 0) {
    setpgid(0, 0);
    // If the soak dies, its servers go too.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int null = open("/dev/null", O_RDONLY);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 0);
    dup2(o, 1);
    dup2(o, 2);
    close_range(3, ~0U, 0);
    execl(binary_.c_str(), binary_.c_str(), "-c", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  running_ = true;
  bool exited = false, answered = false;
  test::wait_until([&] {
    exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
    if (auto s = exited ? std::nullopt : test::query_status(control())) {
      listeners_ = s->listeners;
      answered = true;
    }
    return exited || answered;
  }, 20s);
  if (exited) {
    running_ = false;
    *error = name_ + " exited at start; see " + out + " and " + log_path();
  } else if (!answered) {
    *error = name_ + " did not answer on " + control() + " within 20 s";
  }
  return answered;
}

void SoakServer::reload() {
  variant_ = (variant_ + 1) % variants_.size();
  write_config(variant_);
  signal(SIGHUP);
}

void SoakServer::signal(int sig) const {
  if (running_) kill(pid_, sig);
}

std::optional<int> SoakServer::stop(std::chrono::seconds timeout) {
  if (!running_) return std::nullopt;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!test::wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) return std::nullopt;
  running_ = false;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<int> SoakServer::workers() const { return running_ ? test::children_of(pid_) : std::vector<int>{}; }

}  // namespace soak
