// listener.hpp: bind and listen on the configured addresses. One configured
// address can give several sockets (a bare PORT is IPv4 and IPv6; a host name
// can resolve to several addresses).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "wsserver/address.hpp"
#include "wsserver/config.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/privileges.hpp"

namespace ws {

struct BoundSocket {
  Fd fd;                // non-blocking, close-on-exec
  SocketType type;
  std::string local;    // the address actually bound: "127.0.0.1:9000", "[::1]:9000", "unix:/path"
  int queue_peak = 0;   // the longest accept queue the master has seen on it
  // Passed by a service manager (socket activation), which keeps its own
  // copy to start us again on: never shut down, filtered or unlinked by us.
  bool managed = false;
};

struct Listener {
  ListenAddress address;
  std::vector<BoundSocket> sockets;
  bool managed = false;  // its sockets are a service manager's (see BoundSocket)
};

// Who may connect to a unix: listener: its file's mode and group (-1 leaves
// the group as the kernel made it).
struct UnixAccess {
  mode_t mode = 0660;
  gid_t group = static_cast<gid_t>(-1);
};

// unix_mode and unix_group of `config`; an empty unix_group means the
// workers' group when they change identity. Fails for an unknown group.
std::optional<UnixAccess> unix_access(const Config& config, const Identity& workers, std::string* error);

// Binds every socket for `address` and listens with `backlog`; a unix
// socket's file gets `access`. On failure closes what it opened and returns
// nullopt with *error set.
std::optional<Listener> open_listener(const ListenAddress& address, int backlog, std::string* error,
                                      const UnixAccess& access = {});

// The name an upgrading master gives, in LISTEN_FDNAMES, to the sockets it
// owns; any other name marks a socket the service manager owns.
inline constexpr const char* handed_over_name = "wsserver-upgrade";

// Takes the listening sockets passed as descriptors 3 .. 3 + count - 1
// (LISTEN_FDS): each goes to the first `listen` entry of `config` whose
// transport and address it has (port 0 in an entry matches any port, as the
// kernel's choice did). Returns one listener per entry that got a socket;
// entries without one are for the caller to bind. A socket that matches no
// entry is an error naming it.
std::optional<std::vector<Listener>> adopt_inherited(const Config& config, int count,
                                                     const std::vector<std::string>& names, std::string* error);

// Gives a unix listener's file `access` again (a reload may change it).
bool set_unix_access(const Listener& listener, const UnixAccess& access, std::string* error);

// Sets on a TCP listener the options its accepted sockets inherit (Linux
// copies them at accept): TCP_NODELAY, and idle_timeout as the receive and
// send timeouts (0 clears them). Saves system calls on every connection.
// Unix sockets do not inherit options; workers set them per connection.
void set_inherited_options(const Listener& listener, int idle_timeout_seconds);

// Removes the socket file of a unix listener (at exit).
void remove_socket_file(const Listener& listener);

}  // namespace ws

namespace ws {
// Starts a graceful stop on one listener: new connections are no longer taken
// (a socket filter drops their SYNs; a unix socket's file is removed) while the
// connections already waiting in the backlog can still be accepted.
void refuse_new_connections(const Listener& listener);

// True once no connection waits in a TCP socket's accept queue (or its
// length cannot be read): after refuse_new_connections() it stays so.
bool backlog_drained(const BoundSocket& socket);

// The number of connections waiting in a TCP listener's accept queue, or -1
// when the kernel cannot tell (unix and udp sockets).
int accept_queue_length(const BoundSocket& socket);

// True when something waits on the socket: a connection or a datagram.
bool socket_readable(const BoundSocket& socket);

// Stops a TCP socket listening for every process that holds a copy of it
// (shutdown acts on the socket, not on one descriptor), so connections are
// refused at once. Connections still queued would be reset: call it once
// backlog_drained(). Other transports are left as they are.
void stop_listening(const BoundSocket& socket);
}  // namespace ws
