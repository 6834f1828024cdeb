#include "chaos.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "../support/wait.hpp"
#include "victims.hpp"

namespace soak {
namespace {

char state_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// When the process started, in clock ticks since boot (field 22 of stat).
unsigned long long start_time(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i < 22 && rest >> field;) ++i;
  unsigned long long t = 0;
  rest >> t;
  return t;
}

// `youngest`: the most recently started worker rather than a random one.
void kill_a_worker(int index, SoakServer& server, Ledger& ledger, Rng& rng, bool youngest = false) {
  auto workers = server.workers();
  if (workers.empty()) return;
  int victim = workers[static_cast<size_t>(uniform(rng, 0, static_cast<int>(workers.size()) - 1))];
  if (youngest)
    victim = *std::max_element(workers.begin(), workers.end(), [](int a, int b) { return start_time(a) < start_time(b); });
  // Stopped, it can take no new client while its clients are read.
  if (kill(victim, SIGSTOP) != 0) return;
  test::wait_until([&] {
    char state = state_of(victim);
    return state == 'T' || state == 't' || state == '?';
  }, 1s);
  KillRecord record{index, victim, Clock::now(), clients_of(victim)};
  if (!record.victims.complete) ledger.count("kills with an unknown unix peer");
  ledger.count("clients connected to killed workers",
               static_cast<long>(record.victims.tcp.size() + record.victims.unix_inodes.size()));
  // Recorded before the kill, so a client that sees its connection die finds it.
  ledger.record_kill(std::move(record));
  kill(victim, SIGKILL);
  ledger.count("kills");
}

}  // namespace

void run_chaos(const std::vector<SoakServer*>& servers, Ledger& ledger, Rng& rng, Clock::time_point until) {
  while (Clock::now() < until) {
    // Pacing, not waiting for anything: one action every 0.2 to 1 s.
    std::this_thread::sleep_until(std::min(until, Clock::now() + std::chrono::milliseconds(uniform(rng, 200, 1000))));
    if (Clock::now() >= until) return;
    int index = uniform(rng, 0, static_cast<int>(servers.size()) - 1);
    SoakServer& server = *servers[static_cast<size_t>(index)];
    int action = uniform(rng, 0, 99);
    if (action < 37) {
      kill_a_worker(index, server, ledger, rng);
    } else if (action < 40) {
      // A burst: the replacements die young too, so the master backs off.
      for (int i = 0; i < 3; ++i) {
        kill_a_worker(index, server, ledger, rng, true);
        // Chaos timing, not a wait for anything: a random gap between the
        // kills of a burst, often short enough to hit a replacement young.
        std::this_thread::sleep_for(std::chrono::milliseconds(uniform(rng, 5, 50)));
      }
    } else if (action < 50) {
      server.reload();
      ledger.count("reloads");
    } else if (action < 55) {
      server.signal(SIGUSR1);  // reopen the logs, workers too, in the middle of it all
      ledger.count("log reopens");
    } else if (action < 78) {
      server.signal(SIGTTIN);
      ledger.count("TTIN");
    } else {
      server.signal(SIGTTOU);
      ledger.count("TTOU");
    }
  }
}

}  // namespace soak
