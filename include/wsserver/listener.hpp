// listener.hpp: bind and listen on the configured addresses. One configured
// address can give several sockets (a bare PORT is IPv4 and IPv6; a host name
// can resolve to several addresses).
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "wsserver/address.hpp"
#include "wsserver/fd.hpp"

namespace ws {

struct BoundSocket {
  Fd fd;                // non-blocking, close-on-exec
  Transport transport;
  std::string local;    // the address actually bound: "127.0.0.1:9000", "[::1]:9000", "unix:/path"
};

struct Listener {
  ListenAddress address;
  std::vector<BoundSocket> sockets;
};

// Binds every socket for `address` and listens with `backlog`. On failure
// closes what it opened and returns nullopt with *error set.
std::optional<Listener> open_listener(const ListenAddress& address, int backlog, std::string* error);

// Sets on a TCP listener the options its accepted sockets inherit (Linux
// copies them at accept): TCP_NODELAY, and idle_timeout as the receive and
// send timeouts (0 clears them). Saves system calls on every connection.
// Unix sockets do not inherit options; workers set them per connection.
void set_inherited_options(const Listener& listener, int idle_timeout_seconds);

// Removes the socket file of a unix listener (at exit).
void remove_socket_file(const Listener& listener);

// "127.0.0.1:9000", "[::1]:9000" or "unix:/path" for a socket address.
std::string format_address(const sockaddr* addr, unsigned len);

}  // namespace ws

namespace ws {
// Starts a graceful stop on one listener: new connections are no longer taken
// (a socket filter drops their SYNs; a unix socket's file is removed) while the
// connections already waiting in the backlog can still be accepted.
void refuse_new_connections(const Listener& listener);

// True once no connection waits in a TCP socket's accept queue (or its
// length cannot be read): after refuse_new_connections() it stays so.
bool backlog_drained(const BoundSocket& socket);

// Stops a TCP socket listening for every process that holds a copy of it
// (shutdown acts on the socket, not on one descriptor), so connections are
// refused at once. Connections still queued would be reset: call it once
// backlog_drained(). Other transports are left as they are.
void stop_listening(const BoundSocket& socket);
}  // namespace ws
