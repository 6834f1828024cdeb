// upgrade.hpp: the binary upgrade (`wsserver -s upgrade`, SIGUSR2), the
// nginx and Unicorn way. The master starts its own binary again with the
// same command line, handing it every listening socket by the socket
// activation convention (LISTEN_FDS, src/sd_notify.cpp); the new master says
// it is ready with sd_notify's READY=1, sent to a private datagram socket of
// the old master (its NOTIFY_SOCKET), which then stops gracefully. The state
// machine around it is the master's (src/master_upgrade.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/fd.hpp"

namespace ws::upgrade {

// Set in the new master's environment (the old master's pid): it is already
// detached, whatever -d says, and must not detach again.
inline constexpr const char* from_variable = "WSSERVER_UPGRADE_FROM";
// How long the new master has to become ready before it counts as failed.
inline constexpr int64_t ready_timeout_ms = 30000;

// The binary to start again: argv[0] made absolute against the start
// directory when it names a path (so a symlink switched to a new version is
// followed), else what /proc/self/exe says (found through PATH). Resolved at
// start, before -d changes directory.
std::string own_binary(const char* argv0, const std::string& cwd);

// The old master's end of the readiness handshake: an abstract datagram
// socket with a random name. Only messages whose sender the kernel vouches
// for (SCM_CREDENTIALS) as the new master are believed.
class Channel {
 public:
  static std::optional<Channel> open(std::string* error);
  const std::string& address() const { return address_; }
  int fd() const { return fd_.get(); }
  // Reads every waiting message; true when `pid` sent READY=1. The last
  // STATUS= it sent (a failure's reason) goes to *status.
  bool read(int pid, std::string* status);

 private:
  Channel() = default;
  std::string address_;
  Fd fd_;
};

struct Launch {
  std::string binary;
  std::vector<std::string> args;  // without argv[0]
  std::string cwd;                // the directory the old master was started in
  std::vector<int> sockets;       // become descriptors 3, 4 ... in the new master
  std::vector<std::string> names; // LISTEN_FDNAMES, one per socket
  std::string notify_address;     // the Channel's
  std::string manager_socket;     // the service manager's NOTIFY_SOCKET, or ""
  int64_t watchdog_usec = 0;      // the manager's WATCHDOG_USEC, or 0
};

// Forks and execs the new master; returns its pid, or -1 with *error. A
// failing exec is reported over the channel (STATUS=cannot run ...).
int start(const Launch& launch, std::string* error);

}  // namespace ws::upgrade
