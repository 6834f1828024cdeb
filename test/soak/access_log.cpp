#include "access_log.hpp"

#include <ctime>
#include <fstream>
#include <sstream>

#include "../support/wait.hpp"

namespace soak {
namespace {

// "2026-11-26T05:25:47.039Z" -> a time point; the epoch if it does not parse.
std::chrono::system_clock::time_point parse_time(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &ms) != 7)
    return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
}

}  // namespace

bool access_log_has(const std::string& path, const ClientKey& key, const std::string& reason,
                    std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  std::ifstream in(path);
  std::string client = key.tcp.empty() ? "unix" : key.tcp;
  for (std::string line; std::getline(in, line);) {
    // "TIME CLIENT PID SECONDS MESSAGES IN OUT REASON"
    std::istringstream f(line);
    std::string time, who, pid, seconds, messages, bytes_in, bytes_out, why;
    if (!(f >> time >> who >> pid >> seconds >> messages >> bytes_in >> bytes_out >> why)) continue;
    if (who != client || why != reason) continue;
    auto at = parse_time(time);
    if (at >= from && at <= to) return true;
  }
  return false;
}

bool await_access_log(const std::string& path, const ClientKey& key, const std::string& reason,
                      std::chrono::system_clock::time_point from, std::chrono::milliseconds within) {
  auto to = std::chrono::system_clock::now() + within + std::chrono::seconds(1);
  return test::wait_until([&] { return access_log_has(path, key, reason, from, to); }, within);
}

}  // namespace soak
