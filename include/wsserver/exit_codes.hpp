// exit_codes.hpp: the process exit statuses of SPEC section 4 (sysexits.h values).
#pragma once

namespace ws::exit_code {

inline constexpr int ok = 0;
inline constexpr int failure = 1;       // failure after start
inline constexpr int not_running = 3;   // -s status: no master (LSB)
inline constexpr int usage = 64;        // bad command line
inline constexpr int unavailable = 69;  // another instance holds the pid file
inline constexpr int os_error = 71;     // cannot bind, listen or fork
inline constexpr int cant_create = 73;  // cannot create the pid or log file
inline constexpr int config = 78;       // bad configuration

// A worker that cannot set itself up exits with this status; the master then
// stops instead of respawning it forever (as nginx does with status 2).
inline constexpr int worker_setup_failed = 2;

}  // namespace ws::exit_code
