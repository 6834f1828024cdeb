#include "wsserver/close_reason.hpp"

namespace ws {

const char* close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::client_closed: return "client-closed";
    case CloseReason::exit_command: return "exit";
    case CloseReason::idle_timeout: return "idle-timeout";
    case CloseReason::send_timeout: return "send-timeout";
    case CloseReason::reset: return "reset";
    case CloseReason::shutdown: return "shutdown";
    case CloseReason::auth_failed: return "auth-failed";
    case CloseReason::refused: return "refused";
    case CloseReason::per_ip_limit: return "per-ip-limit";
    case CloseReason::too_slow: return "too-slow";
    case CloseReason::auth_timeout: return "auth-timeout";
    case CloseReason::slow_message: return "slow-message";
    case CloseReason::unauthenticated: return "unauthenticated";
    case CloseReason::auth_blocked: return "auth-blocked";
  }
  return "?";
}

bool is_refusal(CloseReason r) {
  return r == CloseReason::refused || r == CloseReason::per_ip_limit || r == CloseReason::auth_blocked;
}

}  // namespace ws
