// aftermath.hpp: what must hold once the load and the chaos stop: every
// pool back to idle, no zombie, descriptor counts back to their baseline
// and every worker holding only what it may, the master's memory back near
// its baseline, and no log line above info except the warnings the soak
// caused on purpose.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "soak_server.hpp"

namespace soak {

struct ServerBaseline {
  size_t master_fds = 0;
  long master_rss_kib = 0;
  size_t worker_fds = 0;  // of an idle worker
};

struct Baseline {
  std::vector<ServerBaseline> servers;
  size_t driver_fds = 0;
};

// Waits (up to `timeout`) until every worker of every server is idle.
bool settle(const std::vector<SoakServer*>& servers, std::chrono::seconds timeout);

Baseline take_baseline(const std::vector<SoakServer*>& servers);

struct Findings {
  std::vector<std::string> problems;  // each one fails the soak
  std::vector<std::string> notes;     // figures to print
};

// Compares with `before`; `handoff[i]`: server i uses overflow = reject.
Findings check_aftermath(const std::vector<SoakServer*>& servers, const Baseline& before, const std::vector<bool>& handoff);

// Zombie children of `parent`, after giving the parent `grace` to reap them.
std::vector<int> zombies_of(int parent, std::chrono::milliseconds grace);

// The log's lines above info, by kind; those the soak caused on purpose
// (workers killed by signal 9, the respawn back-off, too many clients)
// apart from the rest, which are problems.
void check_log(const SoakServer& server, Findings& findings);

}  // namespace soak
