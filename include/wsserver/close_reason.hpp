// close_reason.hpp: the ways a connection ends, as the access log, the
// metrics and the connection itself name them.
#pragma once

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
// As the access log writes it.
const char* close_reason_name(CloseReason r);
// Turned away before its session began (counted as rejected).
bool is_refusal(CloseReason r);

}  // namespace ws
