// exit_status.hpp: how wsbench exits (sysexits.h values, as wsserver).
#pragma once

namespace wsbench::exit_status {

inline constexpr int ok = 0;
inline constexpr int errors = 1;     // a reply mismatched, a connection failed or was never answered
inline constexpr int usage = 64;     // bad command line
inline constexpr int os_error = 71;  // cannot create a thread, an epoll instance...

}  // namespace wsbench::exit_status
