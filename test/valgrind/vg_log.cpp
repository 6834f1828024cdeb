#include "vg_log.hpp"

#include <cstdlib>
#include <sstream>

namespace vg {
namespace {

// A line without its "==PID== " prefix; `pid` gets the PID.
std::string body_of(const std::string& line, int* pid) {
  if (line.rfind("==", 0) != 0) return line;
  size_t end = line.find("== ", 2);
  if (end == std::string::npos) return line.substr(line.find("==", 2) + 2);
  *pid = std::atoi(line.c_str() + 2);
  return line.substr(end + 3);
}

bool has(const std::string& text, const char* word) { return text.find(word) != std::string::npos; }

// "Open AF_INET socket 5: ..." -> 5.
int fd_number(const std::string& body) {
  size_t colon = body.find(':');
  size_t space = body.rfind(' ', colon);
  return std::atoi(body.c_str() + space + 1);
}

// The function names of a stack, for a one-line report.
std::string frames(const std::string& stack) {
  std::istringstream in(stack);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(": ");
    std::string f = colon == std::string::npos ? line : line.substr(colon + 2);
    out += (out.empty() ? "" : " < ") + f.substr(0, f.find(" ("));
  }
  return out;
}

}  // namespace

ProcessLog parse_log(const std::string& text) {
  ProcessLog log;
  std::istringstream in(text);
  enum { header, errors, fds, heap, leaks } part = header;
  OpenFd* open = nullptr;
  for (std::string line; std::getline(in, line);) {
    std::string body = body_of(line, &log.pid);
    std::string trimmed = body.substr(body.find_first_not_of(' ') == std::string::npos ? body.size() : body.find_first_not_of(' '));
    if (body.rfind("Command: ", 0) == 0) log.command = body.substr(9);
    if (body.rfind("Parent PID: ", 0) == 0) {
      log.parent = std::atoi(body.c_str() + 12);
      part = errors;
      continue;
    }
    if (has(body, "invalid file descriptor")) log.fd_warnings.push_back(trimmed);
    if (body.rfind("FILE DESCRIPTORS: ", 0) == 0) part = fds;
    if (body.rfind("HEAP SUMMARY:", 0) == 0) part = heap;
    if (has(body, "are definitely lost in loss record")) part = leaks;
    if (body.rfind("LEAK SUMMARY:", 0) == 0) part = heap;
    if (body.rfind("ERROR SUMMARY: ", 0) == 0) {
      log.reported = true;
      log.errors = std::atoi(body.c_str() + 15);
    }
    if (part == fds) {
      if (body.rfind("Open ", 0) == 0) {
        log.fds.push_back({fd_number(body), body.substr(5), ""});
        open = &log.fds.back();
      } else if (open && !trimmed.empty()) {
        open->stack += (open->stack.empty() ? "" : "\n") + trimmed;
      } else if (trimmed.empty()) {
        open = nullptr;
      }
    }
    // Error reports come before the exit summaries, leak reports after.
    if (part == errors || part == leaks) {
      if (!trimmed.empty()) log.error_lines.push_back(body);
      else if (part == leaks) part = heap;
    }
  }
  return log;
}

bool is_worker(const ProcessLog& log) {
  for (const auto& f : log.fds)
    if (has(f.stack, "run_worker")) return true;
  return false;
}

std::vector<std::string> worker_fd_problems(const ProcessLog& log) {
  std::vector<std::string> problems;
  int epoll = 0, handoff = 0, clients = 0;
  for (const auto& f : log.fds) {
    if (f.fd <= 2 || f.stack == "<inherited from parent>") continue;
    std::string why;
    if (has(f.stack, "epoll_create")) {
      if (++epoll > 1) why = "a second epoll descriptor";
    } else if (has(f.stack, "open_listener")) {
      // a listener
    } else if (has(f.stack, "open_handoff")) {
      if (++handoff > 1) why = "both ends of the hand-off socket pair";
    } else if (has(f.stack, "run_worker") && (has(f.stack, "accept4") || has(f.stack, "receive_client"))) {
      if (++clients > 1) why = "a second client";
    } else if (has(f.stack, "open_log_file") || has(f.stack, "openlog")) {
      // a log file, or the syslog socket
    } else {
      why = "not the worker's";
    }
    if (!why.empty()) problems.push_back("fd " + std::to_string(f.fd) + " (" + f.what + "): " + why + "; made at " + frames(f.stack));
  }
  return problems;
}

}  // namespace vg
