#include "wsserver/upgrade.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "wsserver/log.hpp"
#include "wsserver/sd_notify.hpp"

namespace ws::upgrade {
namespace {

std::string random_hex(size_t bytes) {
  unsigned char raw[16] = {};
  // Without randomness the name is only less secret: the credentials check
  // still keeps out anyone but the new master.
  if (getrandom(raw, std::min(bytes, sizeof raw), GRND_NONBLOCK) < 0) std::memset(raw, 0, sizeof raw);
  std::string out;
  char two[3];
  for (size_t i = 0; i < std::min(bytes, sizeof raw); ++i) {
    std::snprintf(two, sizeof two, "%02x", raw[i]);
    out += two;
  }
  return out;
}

// The STATUS= and READY=1 lines of one notification.
void parse_message(const std::string& text, bool* ready, std::string* status) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line == "READY=1") *ready = true;
    if (line.rfind("STATUS=", 0) == 0) *status = line.substr(7);
    start = end + 1;
  }
}

// Between fork and exec: the sockets go to 3, 4 ... (first out of the way,
// above every target, so that no dup2 closes one not yet moved), inheritable.
bool place_sockets(const std::vector<int>& sockets) {
  int count = static_cast<int>(sockets.size());
  std::vector<int> moved;
  for (int fd : sockets) moved.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 3 + count));
  for (int i = 0; i < count; ++i)
    if (moved[i] < 0 || dup2(moved[i], 3 + i) < 0) return false;
  return true;
}

void set_environment(const Launch& l) {
  std::string names;
  for (const auto& n : l.names) names += (names.empty() ? "" : ":") + n;
  setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
  setenv("LISTEN_FDS", std::to_string(l.sockets.size()).c_str(), 1);
  setenv("LISTEN_FDNAMES", names.c_str(), 1);
  setenv("NOTIFY_SOCKET", l.notify_address.c_str(), 1);
  setenv(from_variable, std::to_string(getppid()).c_str(), 1);
  // Empty when there is no manager: the new master then stops notifying once ready.
  setenv("WSSERVER_NOTIFY_SOCKET_AFTER_READY", l.manager_socket.c_str(), 1);
  if (l.watchdog_usec > 0) {
    setenv("WATCHDOG_USEC", std::to_string(l.watchdog_usec).c_str(), 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  }
}

[[noreturn]] void exec_new_master(const Launch& l) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::string why;
  if (!place_sockets(l.sockets)) why = "cannot pass the listening sockets: " + std::string(std::strerror(errno));
  // Relative paths on the command line mean what they meant at start.
  if (why.empty() && chdir(l.cwd.c_str()) != 0) why = "cannot enter " + l.cwd + ": " + std::strerror(errno);
  if (why.empty()) {
    set_environment(l);
    std::vector<std::string> argv{l.binary};
    argv.insert(argv.end(), l.args.begin(), l.args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(l.binary.c_str(), cargv.data());
    why = "cannot run " + l.binary + ": " + std::strerror(errno);
  }
  sd::notify_once(l.notify_address, "STATUS=" + why);
  _exit(127);
}

}  // namespace

std::string own_binary(const char* argv0, const std::string& cwd) {
  std::string name = argv0 ? argv0 : "";
  if (name.find('/') != std::string::npos)
    return name[0] == '/' ? name : (std::filesystem::path(cwd) / name).lexically_normal().string();
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : name;
}

std::optional<Channel> Channel::open(std::string* error) {
  Channel c;
  c.address_ = "@wsserver-upgrade-" + std::to_string(getpid()) + "-" + random_hex(8);
  c.fd_ = Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un un;
  socklen_t len = 0;
  int one = 1;
  if (!c.fd_ || !sd::socket_address(c.address_, &un, &len) ||
      setsockopt(c.fd_.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
      bind(c.fd_.get(), reinterpret_cast<sockaddr*>(&un), len) != 0) {
    *error = "cannot open the upgrade's notification socket: " + std::string(std::strerror(errno));
    return std::nullopt;
  }
  return c;
}

bool Channel::read(int pid, std::string* status) {
  bool ready = false;
  for (;;) {
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return ready;  // EAGAIN: all read
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_CREDENTIALS) continue;
    ucred cred;
    std::memcpy(&cred, CMSG_DATA(cm), sizeof cred);
    if (cred.pid != pid) continue;  // anyone can send here; only the new master is heard
    parse_message(std::string(buf, static_cast<size_t>(n)), &ready, status);
  }
}

int start(const Launch& launch, std::string* error) {
  pid_t pid = fork();
  if (pid < 0) {
    *error = log::syscall_error("fork");
    return -1;
  }
  if (pid == 0) exec_new_master(launch);
  return pid;
}

}  // namespace ws::upgrade
