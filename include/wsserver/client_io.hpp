// client_io.hpp: blocking socket I/O for one client, with the ways a
// connection can end, so the worker loop stays a short dispatcher.
#pragma once

#include <string_view>

namespace ws {

enum class CloseReason {
  client_closed, exit_command, idle_timeout, send_timeout, reset, shutdown,
  auth_failed,   // the third wrong secret
  refused,       // allow / deny
  per_ip_limit,  // max_per_ip
  too_slow,      // a chat client that let chat_backlog fill up
};
const char* close_reason_name(CloseReason r);

// Sends all of `data`. Returns 0, or the errno that stopped it (EAGAIN when
// SO_SNDTIMEO expired, EINTR when `interrupted()` said to give up).
int send_all(int fd, std::string_view data, bool (*interrupted)());

// Ends a connection without losing replies: shut down our side, read and
// discard until the client closes (at most `linger_ms`), then close. Closing
// with unread input would make the kernel reset the connection and could
// destroy replies the client has not read yet.
void close_lingering(int fd, int linger_ms);

}  // namespace ws
