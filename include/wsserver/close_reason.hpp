// close_reason.hpp: the ways a connection ends, as the access log, the
// metrics and the connection itself name them.
#pragma once

#include <cstddef>

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
  handshake,        // ws: answered over HTTP (the page, a refusal) or never upgraded
  protocol_error,   // ws: a frame against RFC 6455 (close 1002) or text not UTF-8 (1007)
  too_long,         // ws: a message over max_message (close 1009)
  proxy_header,     // a proxy: listener's header missing, late, malformed or untrusted
  // A new reason goes last, and close_reason_count below names it.
};
// How many reasons there are, for arrays indexed by them (a unit test checks
// that the last reason is the one named here).
inline constexpr size_t close_reason_count = static_cast<size_t>(CloseReason::proxy_header) + 1;
// As the access log writes it.
const char* close_reason_name(CloseReason r);
// Turned away before its session began (counted as rejected).
bool is_refusal(CloseReason r);

}  // namespace ws
