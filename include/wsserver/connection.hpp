// connection.hpp: one accepted client's whole life in a worker, the home of
// the client path (transport.hpp draws its layers). A connection learns who
// its client is (the socket's peer, or what a PROXY header says), lets it in
// or not (allow/deny, max_per_ip, an address blocked for failed AUTHs), runs
// its transport, session and service over the blocking socket until it
// leaves, and ends without losing replies.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/access.hpp"
#include "wsserver/address.hpp"
#include "wsserver/auth_limit.hpp"
#include "wsserver/close_reason.hpp"
#include "wsserver/config.hpp"
#include "wsserver/scoreboard.hpp"
#include "wsserver/service.hpp"

namespace ws {

struct ConnectionTotals {
  uint64_t in = 0, out = 0, messages = 0;
};

// What a worker lends each connection; reused from one client to the next.
struct ConnectionContext {
  const Config* config;
  Service* service;
  WorkerSlot* slot;
  const Scoreboard* board;    // connections per address, for max_per_ip
  const AccessRules* access;  // allow / deny
  const std::string* secret;  // null: no authentication
  size_t max_message;         // max_message, or less if the chat ring holds less
  char* buffer;
  size_t buffer_size;
  AuthLimit* auth_limit = nullptr;  // failed AUTHs per address, shared by the workers
  uint64_t client_id = 0;  // unique per connection (chat uses it to skip the sender)
};

struct ConnectionOutcome {
  CloseReason reason = CloseReason::client_closed;
  ClientAddress client;  // who it was, as the access log names it
  ConnectionTotals totals;
};

// Serves the client on `fd` (blocking, close-on-exec), which came from a
// listener speaking `transport`, and closes it.
ConnectionOutcome serve_connection(int fd, const sockaddr_storage& peer, ListenerTransport transport,
                                   const ConnectionContext& context);

// Sends a one-line notice without blocking and closes (refused clients).
void refuse_connection(int fd, std::string_view notice, std::string_view terminator);

// When a message in progress must have received more, or be cut (SPEC
// section 15, as Apache's mod_reqtimeout with a minimum rate): a message
// whose first byte came at `started_ms` may take `idle_ms`, and longer only
// while its `bytes` so far average `min_rate` a second. INT64_MAX when
// either limit is 0 (off).
int64_t message_deadline(int64_t started_ms, uint64_t bytes, int64_t idle_ms, long long min_rate);

// Sends all of `data`. Returns 0, or the errno that stopped it (EAGAIN when
// SO_SNDTIMEO expired, EINTR when `interrupted()` said to give up).
int send_all(int fd, std::string_view data, bool (*interrupted)());

// Ends a connection without losing replies: shut down our side, read and
// discard until the client closes (at most `linger_ms`), then close. Closing
// with unread input would make the kernel reset the connection and could
// destroy replies the client has not read yet.
void close_lingering(int fd, int linger_ms);

}  // namespace ws
