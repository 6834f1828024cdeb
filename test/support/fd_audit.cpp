#include "fd_audit.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "proc_fds.hpp"

namespace test {
namespace {

struct Counts {
  int epoll = 0, clients = 0, handoff = 0;
};

bool is_log_file(const std::string& link, const WorkerFdRules& rules) {
  for (const auto& f : rules.log_files)
    if (link == f) return true;
  return false;
}

bool is_listener(const SocketInfo& s, const ServerStatus& status) {
  if (!s.listening) return false;
  if (s.kind == SocketInfo::tcp || s.kind == SocketInfo::udp) return true;
  // The control socket listens too, but is no listener of the service.
  for (const auto& l : status.listeners)
    if (l == "unix:" + s.local) return true;
  return false;
}

// What a socket the worker shares with the master may be; "" if allowed.
std::string judge_shared_socket(const SocketInfo& s, const ServerStatus& status, const WorkerFdRules& rules, Counts& n) {
  if (is_listener(s, status)) return "";
  if (s.kind == SocketInfo::unix_seqpacket && s.local.empty()) {
    ++n.handoff;
    if (!rules.handoff) return "the hand-off socket pair, with overflow = queue";
    return n.handoff > 1 ? "both ends of the hand-off socket pair" : "";
  }
  if (s.connected) return "a connection the master holds (" + (s.local.empty() ? s.remote : s.local) + ")";
  return "a socket of the master's (" + s.local + ")";
}

// A socket the master does not hold: the worker's own client, or a leak.
std::string judge_own_socket(const SocketInfo& s, const ServerStatus& status, const WorkerInfo& w, Counts& n) {
  // A worker of an older generation keeps the listeners a reload closed until it retires.
  if (s.listening && w.generation < status.generation) return "";
  bool stream = s.kind == SocketInfo::tcp || s.kind == SocketInfo::unix_stream;
  if (!stream || !s.connected) return "a socket the master has closed (" + s.local + ")";
  if (++n.clients > 1) return "a second client connection (" + s.remote + ")";
  if (w.state != "busy") return "a client connection while " + w.state + " (" + s.remote + ")";
  if (s.kind == SocketInfo::tcp && w.client != s.remote)
    return "a connection to " + s.remote + " while serving " + w.client;
  return "";
}

// A process's soft limit on descriptors, from /proc/PID/limits: prlimit()
// on another user's process needs CAP_SYS_RESOURCE, which a root in a
// container may lack (the workers run as nobody). 0 if unknown.
long open_files_limit(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Max open files", 0) == 0) return std::atol(line.c_str() + 14);
  return 0;
}

// Under make valgrind the tool keeps descriptors of its own in the worker:
// its log files, and a dozen it reserves just below the descriptor limit
// (the program is told the limit is that much lower).
bool valgrinds_own(int pid, int fd, const std::string& link) {
  const char* logs = std::getenv("VALGRIND_LOG_DIR");
  if (!logs || !*logs) return false;
  constexpr long reserved = 16;
  long limit = open_files_limit(pid);
  if (limit > 0 && fd + reserved >= limit) return true;
  return link.rfind(std::string(logs) + "/", 0) == 0;
}

}  // namespace

std::vector<std::string> audit_worker_fds(const ServerStatus& status, const WorkerInfo& worker,
                                          const WorkerFdRules& rules) {
  std::vector<std::string> problems;
  auto master_fds = open_fds(status.pid);
  auto mine = open_fds(worker.pid);
  auto sockets = socket_table();
  std::set<unsigned long> master_sockets;
  for (const auto& [fd, link] : master_fds)
    if (unsigned long ino = socket_inode(link)) master_sockets.insert(ino);
  std::set<std::string> seen;
  Counts n;
  for (const auto& [fd, link] : mine) {
    if (fd <= 2) continue;  // stdin, stdout, stderr: /dev/null or the log
    if (valgrinds_own(worker.pid, fd, link)) continue;
    std::string why;
    if (!seen.insert(link).second && link.rfind("socket:", 0) == 0) {
      why = "a second descriptor for the same socket";
    } else if (link == "anon_inode:[eventpoll]") {
      if (++n.epoll > 1) why = "a second epoll descriptor";
    } else if (unsigned long ino = socket_inode(link)) {
      auto it = sockets.find(ino);
      if (it == sockets.end()) why = "a socket of an unexpected family";
      else if (master_sockets.count(ino)) why = judge_shared_socket(it->second, status, rules, n);
      else why = judge_own_socket(it->second, status, worker, n);
    } else if (!is_log_file(link, rules)) {
      why = "not a log file";
    }
    if (!why.empty()) problems.push_back("fd " + std::to_string(fd) + " -> " + link + ": " + why);
  }
  if (mine.empty()) problems.push_back("no descriptors (is it gone?)");
  else if (n.epoll == 0) problems.push_back("no epoll descriptor");
  return problems;
}

std::vector<std::string> audit_all_workers(const std::string& control_socket, const WorkerFdRules& rules, int* audited) {
  std::vector<std::string> problems;
  auto first = query_status(control_socket);
  if (!first) return {"no status from " + control_socket};
  int count = 0;
  for (const auto& listed : first->workers) {
    // A worker that changes state (a client arrives or leaves) while its
    // descriptors are read is looked at again; one that never keeps still
    // long enough, or turns starting or exiting, is skipped.
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto before = query_status(control_socket);
      if (!before) return {"no status from " + control_socket};
      auto w = std::find_if(before->workers.begin(), before->workers.end(), [&](const WorkerInfo& x) { return x.pid == listed.pid; });
      if (w == before->workers.end() || (w->state != "idle" && w->state != "busy")) break;
      auto found = audit_worker_fds(*before, *w, rules);
      auto after = query_status(control_socket);
      if (!after) return {"no status from " + control_socket};
      if (std::find(after->workers.begin(), after->workers.end(), *w) == after->workers.end()) continue;
      ++count;
      for (const auto& p : found) problems.push_back("worker " + std::to_string(w->pid) + ": " + p);
      break;
    }
  }
  if (audited) *audited = count;
  return problems;
}

}  // namespace test
