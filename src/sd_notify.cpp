#include "wsserver/sd_notify.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "wsserver/fd.hpp"
#include "wsserver/log.hpp"

namespace ws::sd {
namespace {

std::string current;       // where notifications go now
std::string after_ready;   // where they go once READY=1 was sent (an upgrade's child)
bool switch_after_ready = false;  // "": nowhere, the old master had no manager
std::string manager;       // the service manager's socket, for an upgrade's child
Fd socket_fd;
int64_t watchdog_us = 0;

std::string take_env(const char* name) {
  const char* value = std::getenv(name);
  std::string text = value ? value : "";
  unsetenv(name);
  return text;
}

// A decimal number of at most 18 digits, or -1.
int64_t parse_decimal(const std::string& text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool send_to(int fd, const std::string& address, const std::string& message) {
  sockaddr_un un;
  socklen_t len = 0;
  if (address.empty() || fd < 0 || !socket_address(address, &un, &len)) return false;
  // Never blocking: a manager that does not read costs a lost message, not a stuck master.
  ssize_t n = sendto(fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr*>(&un), len);
  if (n == static_cast<ssize_t>(message.size())) return true;
  log::debug("cannot notify %s: %s", address.c_str(), std::strerror(errno));
  return false;
}

// A start-up that fails tells the manager (or an upgrading master) why.
void fatal_hook(int code, const char* message) {
  notify("STATUS=" + std::string(message) + "\nEXIT_STATUS=" + std::to_string(code));
}

}  // namespace

bool socket_address(const std::string& text, sockaddr_un* un, socklen_t* len) {
  *un = {};
  un->sun_family = AF_UNIX;
  if (text.size() < 2 || text.size() >= sizeof un->sun_path || (text[0] != '/' && text[0] != '@')) return false;
  std::memcpy(un->sun_path, text.data(), text.size());
  // An abstract name starts with a NUL byte and is exactly as long as given.
  if (text[0] == '@') un->sun_path[0] = '\0';
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + text.size() + (text[0] == '/' ? 1 : 0));
  return true;
}

void init_from_environment() {
  current = take_env("NOTIFY_SOCKET");
  switch_after_ready = std::getenv("WSSERVER_NOTIFY_SOCKET_AFTER_READY") != nullptr;
  after_ready = take_env("WSSERVER_NOTIFY_SOCKET_AFTER_READY");
  manager = switch_after_ready ? after_ready : current;
  std::string usec = take_env("WATCHDOG_USEC");
  std::string pid = take_env("WATCHDOG_PID");
  int64_t interval = parse_decimal(usec);
  // WATCHDOG_PID names the process the manager watches; another one is not asked.
  bool ours = pid.empty() || parse_decimal(pid) == static_cast<int64_t>(getpid());
  watchdog_us = interval > 0 && ours ? interval : 0;
  if (current.empty()) return;
  socket_fd = Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_fd) log::warn("cannot notify %s: %s", current.c_str(), log::syscall_error("socket").c_str());
  log::set_fatal_hook(fatal_hook);
}

bool enabled() { return socket_fd && !current.empty(); }

bool notify(const std::string& message) {
  bool sent = send_to(socket_fd.get(), current, message);
  if (switch_after_ready && message.find("READY=1") != std::string::npos) {
    switch_after_ready = false;
    current = after_ready;
    if (current.empty()) stop_notifying();
  }
  return sent;
}

void stop_notifying() {
  current.clear();
  after_ready.clear();
  switch_after_ready = false;
  watchdog_us = 0;
  socket_fd.reset();
}

bool notify_once(const std::string& address, const std::string& message) {
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  return send_to(fd.get(), address, message);
}

int64_t watchdog_usec() { return watchdog_us; }

int64_t watchdog_interval_ms() { return enabled() && watchdog_us > 0 ? std::max<int64_t>(1, watchdog_us / 2000) : 0; }

const std::string& manager_socket() { return manager; }

int descriptor() { return socket_fd ? socket_fd.get() : -1; }

int listen_fds_count() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || parse_decimal(pid) != static_cast<int64_t>(getpid())) return 0;
  int64_t n = parse_decimal(fds);
  return n > 0 && n < 65536 ? static_cast<int>(n) : 0;
}

ListenFds take_listen_fds() {
  ListenFds out;
  out.count = listen_fds_count();
  std::string names = std::getenv("LISTEN_FDNAMES") ? std::getenv("LISTEN_FDNAMES") : "";
  for (int i = 0; i < out.count; ++i) {
    size_t colon = names.find(':');
    out.names.push_back(names.substr(0, colon));
    names = colon == std::string::npos ? "" : names.substr(colon + 1);
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return out;
}

}  // namespace ws::sd
