// fork-floor: the least a process-per-client server can do on this machine,
// for make bench-scale to measure wsserver's burst against in the same run.
// As soon as the first client waits it forks COUNT children, as fast as it
// can; each accepts one client, answers its first message (the strip rule,
// NUL-terminated, as wsserver's default) and keeps the connection until the
// client leaves. Nothing else: no pool to tend, no scoreboard, no signals,
// no privileges to drop, no log. What a fork costs here (the kernel's copy
// of the address space, the new process's first touches of each page) it
// pays as wsserver does; the ratio of the two runs is wsserver's own cost.
//
//   fork-floor COUNT
// prints "listening on 127.0.0.1:PORT" on stdout; stop it and its children
// with a signal to its process group.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wsserver/strip.hpp"

namespace {

[[noreturn]] void serve_one(int listen_fd) {
  int fd = accept(listen_fd, nullptr, nullptr);
  if (fd < 0) _exit(1);
  std::string in;
  char buf[4096];
  size_t end;
  // A message ends with LF or NUL (SPEC section 1); wsbench sends both.
  while ((end = in.find_first_of(std::string_view("\n\0", 2))) == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) _exit(0);
    in.append(buf, static_cast<size_t>(n));
  }
  std::string reply;
  ws::strip_append(std::string_view(in).substr(0, end), reply);
  reply.push_back('\0');
  if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) _exit(1);
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 0;
  if (count <= 0) {
    std::fprintf(stderr, "usage: fork-floor COUNT\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("fork-floor: listen");
    return 1;
  }
  std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  signal(SIGCHLD, SIG_IGN);  // the children reap themselves
  pollfd waiting{fd, POLLIN, 0};
  while (poll(&waiting, 1, -1) != 1) {
  }
  for (int i = 0; i < count; ++i) {
    pid_t pid = fork();
    if (pid == 0) serve_one(fd);
    if (pid < 0) {
      std::perror("fork-floor: fork");
      return 1;
    }
  }
  for (;;) pause();
}
