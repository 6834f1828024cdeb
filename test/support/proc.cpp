#include "proc.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace test {
namespace {

// The fields of /proc/PID/stat after the command name: state, ppid, ...
std::vector<std::string> stat_fields(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// Children of `pid` whose state passes `keep`.
template <typename Keep>
std::vector<int> children_where(int pid, Keep keep) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    int p = std::atoi(e->d_name);
    if (p <= 0) continue;
    auto f = stat_fields(p);
    if (f.size() > 1 && keep(f[0]) && std::atoi(f[1].c_str()) == pid) out.push_back(p);
  }
  closedir(d);
  return out;
}

}  // namespace

std::vector<int> children_of(int pid) {
  return children_where(pid, [](const std::string& state) { return state != "Z" && state != "X"; });
}

std::vector<int> zombie_children_of(int pid) {
  return children_where(pid, [](const std::string& state) { return state == "Z"; });
}

bool is_zombie(int pid) {
  auto f = stat_fields(pid);
  return !f.empty() && f[0] == "Z";
}

bool alive(int pid) {
  auto f = stat_fields(pid);
  return !f.empty() && f[0] != "Z" && f[0] != "X";
}

std::string status_field(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) != 0) continue;
    size_t value = line.find_first_not_of(" \t", field.size() + 1);
    return value == std::string::npos ? "" : line.substr(value);
  }
  return "";
}

std::vector<long> status_numbers(int pid, const std::string& field) {
  std::istringstream words(status_field(pid, field));
  std::vector<long> out;
  for (long n; words >> n;) out.push_back(n);
  return out;
}

long status_kib(int pid, const std::string& field) {
  std::string value = status_field(pid, field);
  return value.empty() ? -1 : std::atol(value.c_str());
}

double cpu_seconds(int pid) {
  auto f = stat_fields(pid);
  if (f.size() < 13) return -1;
  // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name.
  return static_cast<double>(std::atol(f[11].c_str()) + std::atol(f[12].c_str())) / sysconf(_SC_CLK_TCK);
}

void reap_children() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace test
