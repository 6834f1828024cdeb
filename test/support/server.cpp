#include "server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "proc.hpp"
#include "wait.hpp"

namespace test {
namespace {

int decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Forks and execs the binary with stdout and stderr in the given files.
int spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err, bool own_group) {
  // Orphaned workers come back to the test to be reaped, not to init.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> argv{wsserver_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (own_group) setpgid(0, 0);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int e = err == out ? o : open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  for (const auto& a : args)
    if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
  return false;
}

}  // namespace

std::string wsserver_binary() {
  const char* env = std::getenv("WSSERVER");
  return env && *env ? env : "build/wsserver";
}

RunResult run_wsserver(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  TempDir dir;
  int pid = spawn(args, dir.file("out"), dir.file("err"), true);
  RunResult result;
  int status = 0;
  bool done = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.status = done ? decode(status) : -1;
  result.out = read_file(dir.file("out"));
  result.err = read_file(dir.file("err"));
  return result;
}

Server::Server(std::vector<std::string> args, const std::string& config) {
  std::vector<std::string> full{"-c", dir_.write("wsserver.conf", config)};
  if (!has_flag(args, "--listen") && config.find("listen") == std::string::npos) {
    full.push_back("--listen");
    full.push_back("127.0.0.1:0");
  }
  if (!has_flag(args, "--pid_file") && config.find("pid_file") == std::string::npos) {
    full.push_back("--pid_file");
    full.push_back(dir_.file("wsserver.pid"));
  }
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(full, dir_.file("server.log"), dir_.file("server.log"), true);
  bool listening = wait_until([&] {
    int status = 0;
    if (!exited_ && waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = decode(status);
    }
    return exited_ || log().find("wsserver stopped") != std::string::npos ||
           log().find("listening on") != std::string::npos;
  }, 10s);
  if (!listening || exited_) throw std::runtime_error("wsserver did not start:\n" + log());
  // All listening lines are logged together, before the first worker starts.
  wait_log("worker ");
  std::string text = log();
  for (size_t at = 0; (at = text.find("listening on ", at)) != std::string::npos;) {
    at += 13;
    addresses_.push_back(text.substr(at, text.find('\n', at) - at));
  }
}

Server::~Server() {
  if (!exited_) {
    // The whole group: master and every worker it forked.
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  auto kids = children_of(pid_);
  for (int k : kids) kill(k, SIGKILL);
  wait_until([&] {
    reap_children();
    for (int k : kids)
      if (alive(k) || is_zombie(k)) return false;
    return true;
  }, 5s);
}

uint16_t Server::port(size_t i) const {
  const std::string& a = addresses_.at(i);
  return static_cast<uint16_t>(std::atoi(a.c_str() + a.rfind(':') + 1));
}

std::string Server::log() const { return read_file(dir_.file("server.log")); }

size_t Server::log_count(std::string_view text) const {
  std::string l = log();
  size_t n = 0;
  for (size_t at = 0; (at = l.find(text, at)) != std::string::npos; at += text.size()) ++n;
  return n;
}

bool Server::wait_log(std::string_view text, std::chrono::milliseconds timeout, size_t count) const {
  return wait_until([&] { return log_count(text) >= count; }, timeout);
}

std::vector<int> Server::workers() const { return children_of(pid_); }

bool Server::wait_workers(size_t count, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return workers().size() == count; }, timeout);
}

void Server::signal(int sig) const { kill(pid_, sig); }

std::optional<int> Server::wait_exit(std::chrono::milliseconds timeout) {
  if (!exited_) {
    int status = 0;
    if (!wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) return std::nullopt;
    exited_ = true;
    status_ = decode(status);
  }
  return status_;
}

}  // namespace test
