#include "victims.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "../support/proc_fds.hpp"
#include "wsserver/fd.hpp"

namespace soak {
namespace {

// inode -> peer inode of every connected unix socket; empty if the kernel
// has no unix_diag.
std::map<unsigned long, unsigned long> unix_peers() {
  std::map<unsigned long, unsigned long> peers;
  ws::Fd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return peers;
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } ask{};
  ask.header.nlmsg_len = sizeof ask;
  ask.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  ask.request.sdiag_family = AF_UNIX;
  ask.request.udiag_states = ~0U;
  ask.request.udiag_show = UDIAG_SHOW_PEER;
  if (send(fd.get(), &ask, sizeof ask, 0) != static_cast<ssize_t>(sizeof ask)) return peers;
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) return peers;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return peers;
      auto* msg = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *msg));
      for (auto* a = reinterpret_cast<rtattr*>(msg + 1); RTA_OK(a, left); a = RTA_NEXT(a, left))
        if (a->rta_type == UNIX_DIAG_PEER) peers[msg->udiag_ino] = *static_cast<uint32_t*>(RTA_DATA(a));
    }
  }
}

}  // namespace

Victims clients_of(int pid) {
  Victims v;
  auto sockets = test::socket_table();
  std::map<unsigned long, unsigned long> peers;
  bool peers_read = false;
  for (const auto& [fd, link] : test::open_fds(pid)) {
    auto it = sockets.find(test::socket_inode(link));
    if (it == sockets.end() || !it->second.connected || it->second.listening) continue;
    if (it->second.kind == test::SocketInfo::tcp) v.tcp.insert(it->second.remote);
    if (it->second.kind != test::SocketInfo::unix_stream) continue;
    if (!peers_read) {
      peers = unix_peers();
      peers_read = true;
    }
    auto peer = peers.find(it->first);
    if (peer != peers.end()) v.unix_inodes.insert(peer->second);
    else v.complete = false;
  }
  return v;
}

}  // namespace soak
