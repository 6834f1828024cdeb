// ledger.hpp: what the soak saw. Figures by name, failures by cause (the
// ones a kill explains apart from the ones nothing explains), and the
// record of every kill with the clients its worker was serving.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "victims.hpp"
#include "wire.hpp"

namespace soak {

struct KillRecord {
  int server = 0;  // index of the server whose worker it was
  int pid = 0;
  Clock::time_point at;
  Victims victims;
};

class Ledger {
 public:
  void count(const std::string& figure, long n = 1);
  // Keeps the largest value seen for `figure`.
  void maximum(const std::string& figure, long value);
  long figure(const std::string& name) const;

  void record_kill(KillRecord kill);
  // True if a worker of `server` was killed, after `opened`, while serving
  // the client `key`: the kill explains that client's failure.
  bool killed_while_serving(int server, const ClientKey& key, Clock::time_point opened) const;
  // True if a worker of `server` was killed between `from` and `to`.
  bool kill_between(int server, Clock::time_point from, Clock::time_point to) const;

  // A failure a kill (or the service's own design) explains, by cause.
  void excuse(const std::string& cause);
  // A failure nothing explains: counted by cause; the first few details kept.
  void fail(const std::string& cause, const std::string& detail);

  std::map<std::string, long> figures() const;
  std::map<std::string, long> excused() const;
  std::map<std::string, long> failures() const;
  std::vector<std::string> failure_details() const;
  long unexplained() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, long> figures_, excused_, failures_;
  std::vector<std::string> details_;
  std::vector<KillRecord> kills_;
};

}  // namespace soak
