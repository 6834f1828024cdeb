#include "aftermath.hpp"

#include <algorithm>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "../support/fd_audit.hpp"
#include "../support/proc.hpp"
#include "../support/proc_fds.hpp"
#include "../support/wait.hpp"
#include "wire.hpp"

namespace soak {
namespace {

// The allocator keeps some pages it freed; growth past this is not that.
constexpr long rss_slack_kib = 1024;

bool all_idle(const SoakServer& s) {
  auto status = test::query_status(s.control());
  if (!status || status->workers.empty()) return false;
  for (const auto& w : status->workers)
    if (w.state != "idle") return false;
  return status->workers.size() == s.workers().size();
}

// The warnings the soak causes on purpose.
bool expected_warning(const std::string& text, std::string* kind) {
  static const std::regex killed(R"(worker \d+ killed by signal 9 \(Killed\))");
  static const std::regex back_off(R"(workers keep dying young: next start in [0-9.]+ s)");
  static const std::regex busy(R"(too many clients: all \d+ workers are busy .*)");
  if (std::regex_match(text, killed)) *kind = "worker killed by signal 9";
  else if (std::regex_match(text, back_off)) *kind = "workers keep dying young (respawn back-off)";
  else if (std::regex_match(text, busy)) *kind = "too many clients (every worker busy)";
  else return false;
  return true;
}

}  // namespace

bool settle(const std::vector<SoakServer*>& servers, std::chrono::seconds timeout) {
  return test::wait_until([&] {
    return std::all_of(servers.begin(), servers.end(), [](SoakServer* s) { return all_idle(*s); });
  }, timeout);
}

Baseline take_baseline(const std::vector<SoakServer*>& servers) {
  Baseline b;
  for (auto* s : servers) {
    ServerBaseline sb;
    sb.master_fds = test::open_fds(s->pid()).size();
    sb.master_rss_kib = test::status_kib(s->pid(), "VmRSS");
    auto workers = s->workers();
    if (!workers.empty()) sb.worker_fds = test::open_fds(workers.front()).size();
    b.servers.push_back(sb);
  }
  b.driver_fds = test::open_fds(getpid()).size();
  return b;
}

std::vector<int> zombies_of(int parent, std::chrono::milliseconds grace) {
  std::vector<int> found;
  // A worker that just died is a zombie until the master's next turn.
  test::wait_until([&] {
    found = test::zombie_children_of(parent);
    return found.empty();
  }, grace);
  return found;
}

void check_log(const SoakServer& server, Findings& findings) {
  std::ifstream in(server.log_path());
  std::map<std::string, long> expected, unexpected;
  for (std::string line; std::getline(in, line);) {
    // "TIME LEVEL PID text"
    size_t a = line.find(' '), b = a == std::string::npos ? a : line.find(' ', a + 1);
    size_t c = b == std::string::npos ? b : line.find(' ', b + 1);
    if (c == std::string::npos) {
      findings.problems.push_back(server.name() + " log: a line not in the log format: " + line.substr(0, 120));
      continue;
    }
    std::string level = line.substr(a + 1, b - a - 1), text = line.substr(c + 1), kind;
    if (level == "info" || level == "debug") continue;
    if (level == "warn" && expected_warning(text, &kind)) ++expected[kind];
    else if (++unexpected[level + ": " + text] == 1)
      findings.problems.push_back(server.name() + " log: " + level + ": " + text);
  }
  for (const auto& [kind, n] : expected)
    findings.notes.push_back(server.name() + " log: " + std::to_string(n) + " x warn " + kind + " (caused on purpose)");
}

Findings check_aftermath(const std::vector<SoakServer*>& servers, const Baseline& before, const std::vector<bool>& handoff) {
  Findings f;
  for (size_t i = 0; i < servers.size(); ++i) {
    const SoakServer& s = *servers[i];
    const ServerBaseline& b = before.servers[i];
    for (int z : zombies_of(s.pid(), 2000ms)) f.problems.push_back(s.name() + ": zombie worker " + std::to_string(z));
    size_t fds = test::open_fds(s.pid()).size();
    long rss = test::status_kib(s.pid(), "VmRSS");
    f.notes.push_back(s.name() + " master: descriptors " + std::to_string(b.master_fds) + " -> " + std::to_string(fds) +
                      ", RSS " + std::to_string(b.master_rss_kib) + " -> " + std::to_string(rss) + " KiB");
    if (fds != b.master_fds) f.problems.push_back(s.name() + " master: descriptors not back to the baseline");
    if (rss > b.master_rss_kib + rss_slack_kib)
      f.problems.push_back(s.name() + " master: RSS grew by " + std::to_string(rss - b.master_rss_kib) + " KiB");
    for (int w : s.workers()) {
      size_t n = test::open_fds(w).size();
      if (n != b.worker_fds)
        f.problems.push_back(s.name() + " worker " + std::to_string(w) + ": " + std::to_string(n) +
                             " descriptors, an idle worker had " + std::to_string(b.worker_fds));
    }
    int audited = 0;
    test::WorkerFdRules rules{handoff[i], {s.log_path(), s.access_log_path()}};
    for (const auto& p : test::audit_all_workers(s.control(), rules, &audited)) f.problems.push_back(s.name() + " " + p);
    f.notes.push_back(s.name() + ": " + std::to_string(audited) + " idle workers audited, each holding " +
                      std::to_string(b.worker_fds) + " descriptors");
  }
  size_t driver = test::open_fds(getpid()).size();
  if (driver != before.driver_fds)
    f.problems.push_back("the soak itself holds " + std::to_string(driver) + " descriptors, " +
                         std::to_string(before.driver_fds) + " at the baseline");
  for (int z : zombies_of(getpid(), 2000ms)) f.problems.push_back("the soak has a zombie child " + std::to_string(z));
  return f;
}

}  // namespace soak
