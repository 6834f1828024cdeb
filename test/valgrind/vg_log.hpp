// vg_log.hpp: one process's valgrind memcheck log, as make valgrind reads
// it: its errors, its definite leaks and the descriptors open at its exit,
// and the rule for what a worker may hold then.
#pragma once

#include <string>
#include <vector>

namespace vg {

struct OpenFd {
  int fd = -1;
  std::string what;   // "AF_INET socket 5: 127.0.0.1:9000 <-> unbound", "file descriptor 4: /path"...
  std::string stack;  // where it was created, or "<inherited from parent>"
};

struct ProcessLog {
  int pid = 0, parent = 0;
  std::string command;
  bool reported = false;  // valgrind wrote its exit report (not killed by a signal)
  int errors = 0;         // memory errors and definite leaks (ERROR SUMMARY)
  std::vector<std::string> fd_warnings;  // "invalid file descriptor" warnings: a close of a stale number
  std::vector<OpenFd> fds;               // open at exit, 0-2 aside
  std::vector<std::string> error_lines;  // the error and leak reports, to show
};

ProcessLog parse_log(const std::string& text);

// A worker: a process whose descriptors were (partly) made in run_worker().
bool is_worker(const ProcessLog& log);

// One line for each descriptor a worker held at exit that it should not:
// a worker may hold its listeners, one client, the log files, its epoll
// descriptor and its end of the hand-off pair; descriptors inherited from
// whoever started the master are not wsserver's and are not judged.
std::vector<std::string> worker_fd_problems(const ProcessLog& log);

}  // namespace vg
