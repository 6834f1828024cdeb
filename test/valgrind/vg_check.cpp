// vg-check: judges every valgrind log of a make valgrind run. Fails on any
// memory error or definite leak in any process, any close of an invalid
// descriptor, and any descriptor a worker held at exit that it should not.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vg_log.hpp"

namespace {

std::vector<std::string> log_files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind("vg.", 0) == 0 && name.size() > 4 && name.ends_with(".log")) out.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void show(const std::string& path, const std::string& what, const std::vector<std::string>& lines, size_t limit = 40) {
  std::printf("---- %s: %s\n", path.c_str(), what.c_str());
  for (size_t i = 0; i < lines.size() && i < limit; ++i) std::printf("  %s\n", lines[i].c_str());
  if (lines.size() > limit) std::printf("  ... (%zu more lines)\n", lines.size() - limit);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: vg-check LOG_DIR\n");
    return 64;
  }
  int processes = 0, workers = 0, unreported = 0, failed = 0, worker_fds_checked = 0;
  for (const auto& path : log_files(argv[1])) {
    vg::ProcessLog log = vg::parse_log(read_all(path));
    ++processes;
    if (!log.reported) {
      ++unreported;  // killed by a signal (a test's kill -9): nothing to judge
      continue;
    }
    bool bad = false;
    if (log.errors > 0) {
      show(path, std::to_string(log.errors) + " errors (" + log.command + ")", log.error_lines);
      bad = true;
    }
    if (!log.fd_warnings.empty()) {
      show(path, "closes of invalid descriptors", log.fd_warnings);
      bad = true;
    }
    if (vg::is_worker(log)) {
      ++workers;
      worker_fds_checked += static_cast<int>(log.fds.size());
      auto problems = vg::worker_fd_problems(log);
      if (!problems.empty()) {
        show(path, "worker " + std::to_string(log.pid) + " held descriptors it should not", problems);
        bad = true;
      }
    }
    failed += bad;
  }
  std::printf("valgrind: %d processes (%d workers, %d descriptors of workers judged), %d killed before reporting, %d with problems\n",
              processes, workers, worker_fds_checked, unreported, failed);
  return processes > 0 && failed == 0 ? 0 : 1;
}
