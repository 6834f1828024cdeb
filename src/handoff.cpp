#include "wsserver/handoff.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ws {

bool open_handoff(Handoff* handoff) {
  int fds[2];
  // Sequenced packets: one client per message, never two merged.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return false;
  handoff->master_end = Fd(fds[0]);
  handoff->worker_end = Fd(fds[1]);
  return true;
}

namespace {

// One byte of data (the listener's transport) carrying one descriptor.
struct OneDescriptor {
  unsigned char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  OneDescriptor() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  OneDescriptor(const OneDescriptor&) = delete;
};

}  // namespace

bool send_client(int handoff_fd, int fd, unsigned char tag) {
  OneDescriptor m;
  m.byte = tag;
  msghdr& msg = m.msg;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  return sendmsg(handoff_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

int receive_client(int handoff_fd, unsigned char* tag) {
  OneDescriptor m;
  msghdr& msg = m.msg;
  if (recvmsg(handoff_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  *tag = m.byte;
  return fd;
}

}  // namespace ws
