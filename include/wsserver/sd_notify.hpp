// sd_notify.hpp: systemd's two small protocols, spoken without libsystemd.
// Notification (sd_notify(3)): one datagram of "KEY=VALUE" lines to the
// AF_UNIX socket NOTIFY_SOCKET names, a path or "@name" in the abstract
// namespace. Socket activation (sd_listen_fds(3)): LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES describe listening sockets passed as descriptors 3, 4 ...
// Both read the environment once, at start, and clear it: no child of the
// master inherits a socket that is not meant for it.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ws::sd {

// Fills `un` for a NOTIFY_SOCKET value; false for one that is empty or too long.
bool socket_address(const std::string& text, sockaddr_un* un, socklen_t* len);

// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and clears them. An
// upgrade's new master (src/upgrade.cpp) also gets
// WSSERVER_NOTIFY_SOCKET_AFTER_READY: its first READY=1 goes to the old
// master, everything after it to the service manager (nowhere when empty).
void init_from_environment();
// True when a notification socket is known.
bool enabled();
// Sends one message, never blocking; false when it could not be sent (a
// manager that is gone is not worth more than a debug line).
bool notify(const std::string& message);
// Stops notifying: the manager now watches another process (after an upgrade).
void stop_notifying();
// Sends one message to `address` from a socket of its own (an upgrade's
// child telling its parent why its exec failed).
bool notify_once(const std::string& address, const std::string& message);
// WATCHDOG_USEC as the manager gave it to us, or 0.
int64_t watchdog_usec();
// Every how many milliseconds WATCHDOG=1 is due (half WATCHDOG_USEC), or 0.
int64_t watchdog_interval_ms();
// The NOTIFY_SOCKET the manager gave (empty if none), for an upgrade's child.
const std::string& manager_socket();
// The notification descriptor, or -1: workers must not inherit it.
int descriptor();

struct ListenFds {
  int count = 0;                    // descriptors 3 .. 3 + count - 1
  std::vector<std::string> names;   // LISTEN_FDNAMES, one per descriptor ("" when not given)
};
// LISTEN_FDS when LISTEN_PID is our pid; 0 otherwise. Does not clear them.
int listen_fds_count();
// Same, with the names, and clears the three variables.
ListenFds take_listen_fds();

}  // namespace ws::sd
