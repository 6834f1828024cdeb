// A preload library for one test: epoll_create1() fails as if the process
// were out of descriptors. Only workers call it, so a master started with
// LD_PRELOAD pointing here sees each worker fail its own set-up.
#include <sys/epoll.h>

#include <cerrno>

extern "C" int epoll_create1(int) {
  errno = EMFILE;
  return -1;
}
