// victims.hpp: which clients a worker is serving, read while it is stopped
// (SIGSTOP) just before the chaos kills it, so that exactly those clients'
// failures are put down to the kill.
#pragma once

#include <set>
#include <string>

namespace soak {

struct Victims {
  std::set<std::string> tcp;            // clients' addresses ("127.0.0.1:40000")
  std::set<unsigned long> unix_inodes;  // clients' unix socket inodes
  bool complete = true;                 // false if a unix peer could not be found
};

// The clients of (stopped) process `pid`: its connected TCP sockets' peers
// and its connected unix sockets' peers (through NETLINK_SOCK_DIAG).
Victims clients_of(int pid);

}  // namespace soak
