#include "ledger.hpp"

namespace soak {
namespace {

constexpr size_t details_kept = 20;

}  // namespace

void Ledger::count(const std::string& figure, long n) {
  std::lock_guard lock(mutex_);
  figures_[figure] += n;
}

void Ledger::maximum(const std::string& figure, long value) {
  std::lock_guard lock(mutex_);
  long& m = figures_[figure];
  if (value > m) m = value;
}

long Ledger::figure(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = figures_.find(name);
  return it == figures_.end() ? 0 : it->second;
}

void Ledger::record_kill(KillRecord kill) {
  std::lock_guard lock(mutex_);
  kills_.push_back(std::move(kill));
}

bool Ledger::killed_while_serving(int server, const ClientKey& key, Clock::time_point opened) const {
  std::lock_guard lock(mutex_);
  for (const auto& k : kills_) {
    // A client address is reused by later connections: only a kill during
    // this connection's life counts.
    if (k.server != server || k.at < opened) continue;
    if (!key.tcp.empty() && k.victims.tcp.count(key.tcp)) return true;
    if (key.unix_inode && k.victims.unix_inodes.count(key.unix_inode)) return true;
  }
  return false;
}

bool Ledger::kill_between(int server, Clock::time_point from, Clock::time_point to) const {
  std::lock_guard lock(mutex_);
  for (const auto& k : kills_)
    if (k.server == server && k.at >= from && k.at <= to) return true;
  return false;
}

void Ledger::excuse(const std::string& cause) {
  std::lock_guard lock(mutex_);
  ++excused_[cause];
}

void Ledger::fail(const std::string& cause, const std::string& detail) {
  std::lock_guard lock(mutex_);
  ++failures_[cause];
  if (details_.size() < details_kept) details_.push_back(cause + ": " + detail);
}

std::map<std::string, long> Ledger::figures() const {
  std::lock_guard lock(mutex_);
  return figures_;
}

std::map<std::string, long> Ledger::excused() const {
  std::lock_guard lock(mutex_);
  return excused_;
}

std::map<std::string, long> Ledger::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::vector<std::string> Ledger::failure_details() const {
  std::lock_guard lock(mutex_);
  return details_;
}

long Ledger::unexplained() const {
  std::lock_guard lock(mutex_);
  long n = 0;
  for (const auto& [cause, count] : failures_) n += count;
  return n;
}

}  // namespace soak
