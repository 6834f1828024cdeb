#include "server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "wsserver/control.hpp"
#include "wsserver/pidfile.hpp"

#include "proc.hpp"
#include "wait.hpp"

namespace test {
namespace {

int decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Forks and execs the binary with stdout and stderr in the given files.
int spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err, bool own_group,
          const std::vector<std::string>& env = {}) {
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
    // The server starts with 0, 1 and 2 alone: whatever else the test (or
    // whoever ran it) has open is not the server's to hand to its workers.
    close_range(3, ~0U, 0);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
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

uint16_t port_of(const std::string& address) {
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

std::string build_dir() {
  // Under make valgrind WSSERVER is a wrapper script; the build is where the
  // binary it runs is.
  const char* real = std::getenv("WSSERVER_REAL");
  std::string bin = real && *real ? real : wsserver_binary();
  size_t slash = bin.rfind('/');
  return slash == std::string::npos ? "." : bin.substr(0, slash);
}

RunResult run_wsserver(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                       const std::vector<std::string>& env) {
  TempDir dir;
  int pid = spawn(args, dir.file("out"), dir.file("err"), true, env);
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

std::string expand_dir(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir);
  return text;
}

std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) return args[i + 1];
  return "";
}

// Whether the config file sets `key` (a line "key = ..."), not merely names
// it: metrics_listen is not listen.
bool config_sets(const std::string& config, const std::string& key) {
  std::istringstream in(config);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find_first_not_of(" \t");
    if (at == std::string::npos || line.compare(at, key.size(), key) != 0) continue;
    size_t next = line.find_first_not_of(" \t", at + key.size());
    if (next != std::string::npos && line[next] == '=') return true;
  }
  return false;
}

std::string slow_clock_preload() { return "LD_PRELOAD=" + build_dir() + "/slow-clock.so"; }

Server::Server(std::vector<std::string> args, const std::string& config, const std::vector<std::string>& env) {
  for (auto& a : args) a = expand_dir(a, dir_.path());
  std::vector<std::string> full{"-c", dir_.write("wsserver.conf", expand_dir(config, dir_.path()))};
  if (!has_flag(args, "--listen") && !config_sets(config, "listen")) {
    full.push_back("--listen");
    full.push_back("127.0.0.1:0");
  }
  pid_path_ = flag_value(args, "--pid_file");
  if (pid_path_.empty()) {
    pid_path_ = dir_.file("wsserver.pid");
    full.push_back("--pid_file");
    full.push_back(pid_path_);
  }
  // A fixed pool unless the test asks for spares: the SPEC's min_spare of 5
  // would grow every small test pool.
  if (!has_flag(args, "--min_spare") && !config_sets(config, "min_spare")) {
    full.push_back("--min_spare");
    full.push_back("0");
  }
  std::string log_file = flag_value(args, "--log_file");
  log_path_ = log_file.rfind("/", 0) == 0 && log_file.rfind("/dev/", 0) != 0 ? log_file : dir_.file("server.log");
  control_path_ = flag_value(args, "--control_socket");
  if (control_path_.empty()) control_path_ = pid_path_.substr(0, pid_path_.size() - 4) + ".sock";
  const std::string& control = control_path_;
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(full, dir_.file("server.log"), dir_.file("server.log"), true, env);
  // Ready when the control socket answers: the master has bound its
  // listeners, written its pid file and forked its first workers.
  std::optional<std::string> status;
  wait_until([&] {
    int st = 0;
    if (!exited_ && waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      status_ = decode(st);
    }
    std::string error;
    return exited_ || (status = ws::query_control(control, "status", 1000, &error));
  }, 10s);
  if (exited_ || !status) {
    // No destructor runs for an object whose constructor throws: what was
    // started is stopped here, by its process group.
    std::string log = read_file(dir_.file("server.log"));
    stop_everything();
    throw std::runtime_error("wsserver did not start:\n" + log);
  }
  size_t at = status->find("listening:");
  std::istringstream words(status->substr(at + 10, status->find('\n', at) - at - 10));
  for (std::string a; words >> a;) addresses_.push_back(a);
}

Server::~Server() { stop_everything(); }

void Server::stop_everything() {
  // A fast stop first: a master and workers that exit on their own say how
  // they ended (valgrind reports descriptors and leaks only then).
  if (!exited_ && kill(pid_, SIGINT) == 0) wait_exit(10s);
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    exited_ = true;
  }
  // The whole group, whatever is left of it: workers stay in the master's
  // group even when the master is gone.
  kill(-pid_, SIGKILL);
  auto kids = children_of(pid_);
  for (int k : kids) kill(k, SIGKILL);
  wait_until([&] {
    reap_children();
    for (int k : kids)
      if (alive(k) || is_zombie(k)) return false;
    return true;
  }, 5s);
}

std::vector<std::string> Server::same_files(std::vector<std::string> extra) const {
  std::vector<std::string> args{"-c", dir_.file("wsserver.conf"), "--pid_file", pid_path_};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

uint16_t Server::port(size_t i) const {
  const std::string& a = addresses_.at(i);
  return static_cast<uint16_t>(std::atoi(a.c_str() + a.rfind(':') + 1));
}

std::string Server::log() const { return read_file(log_path_); }

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
  return wait_until([&] { return workers().size() == count && !any_worker_starting(); }, timeout);
}

bool Server::any_worker_starting() const {
  std::string error;
  auto status = ws::query_control(control_path_, "status json", 1000, &error);
  return status && status->find("\"state\":\"starting\"") != std::string::npos;
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

DaemonGuard::~DaemonGuard() {
  int pid = ws::read_pid(pid_file);
  if (pid <= 0) return;
  auto workers = children_of(pid);
  kill(pid, SIGKILL);
  for (int w : workers) kill(w, SIGKILL);
  wait_until([&] {
    reap_children();
    return !alive(pid);
  }, 5s);
}

bool skip_unless_root(const char* why) {
  if (geteuid() == 0) return false;
  std::printf("SKIPPED: needs root: %s\n", why);
  return true;
}

}  // namespace test
