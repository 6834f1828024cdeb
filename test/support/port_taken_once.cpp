// A preload library for one test: the first bind() of an IPv4 socket to a
// port other than 0 fails as if another process held that port, the race a
// bare `listen 0` meets when the port the kernel picked for IPv6 is taken
// for IPv4.
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

extern "C" int bind(int fd, const sockaddr* addr, socklen_t len) {
  static bool failed = false;
  using Bind = int (*)(int, const sockaddr*, socklen_t);
  static Bind real = reinterpret_cast<Bind>(dlsym(RTLD_NEXT, "bind"));
  if (!failed && addr->sa_family == AF_INET && reinterpret_cast<const sockaddr_in*>(addr)->sin_port != 0) {
    failed = true;
    errno = EADDRINUSE;
    return -1;
  }
  return real(fd, addr, len);
}
