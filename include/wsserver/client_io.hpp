// client_io.hpp: blocking socket I/O for one client, with the ways a
// connection can end, so the worker loop stays a short dispatcher.
#pragma once

#include <cstdint>
#include <string_view>

namespace ws {

enum class CloseReason {
  client_closed, exit_command, idle_timeout, send_timeout, reset, shutdown,
  auth_failed,   // the third wrong secret
  refused,       // allow / deny
  per_ip_limit,  // max_per_ip
  too_slow,      // a chat client that let chat_backlog fill up
  auth_timeout,     // not authenticated within auth_timeout
  slow_message,     // a message that outlasted idle_timeout below min_rate
  unauthenticated,  // too many messages before AUTH
  auth_blocked,     // from an address past auth_max_failures
};
const char* close_reason_name(CloseReason r);

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
