// proc_fds.hpp: the descriptors a process holds, as /proc shows them, and
// what the kernel's socket tables say about each socket.
#pragma once

#include <map>
#include <string>

namespace test {

// Descriptor number -> readlink of /proc/PID/fd/N ("socket:[123]",
// "anon_inode:[eventpoll]", "/path/file", "pipe:[45]"...). Empty if the
// process is gone.
std::map<int, std::string> open_fds(int pid);

// The inode of a "socket:[N]" link, or 0 for anything else.
unsigned long socket_inode(const std::string& link);

struct SocketInfo {
  enum Kind { tcp, udp, unix_stream, unix_dgram, unix_seqpacket } kind = tcp;
  bool listening = false;  // TCP LISTEN, a unix socket that accepts, any bound UDP socket
  bool connected = false;  // TCP past the handshake (ESTABLISHED, CLOSE_WAIT...), unix connected
  std::string local;       // "127.0.0.1:9000", "[::1]:9000" or a unix path ("" if unnamed)
  std::string remote;      // TCP and UDP only
};

// Every socket of this network namespace: /proc/net/{tcp,tcp6,udp,udp6,unix}.
std::map<unsigned long, SocketInfo> socket_table();

}  // namespace test
