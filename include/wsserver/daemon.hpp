// daemon.hpp: detach as a classic daemon (fork, setsid, fork, chdir /,
// umask, stdio to /dev/null) while the launching process waits on a
// readiness pipe: it exits 0 only when the daemon reports that it listens
// and holds its pid file, or prints the daemon's error and exits with its code.
#pragma once

#include <string>

namespace ws::daemon {

// Detaches. Returns in the daemon process only; the launcher exits.
void detach();
// In the daemon: start-up succeeded; the launcher may exit 0.
void report_ready();
// In the daemon before report_ready(): tell the launcher why we stop.
void report_failure(int code, const std::string& message);
// The readiness pipe's descriptor (workers must not inherit it), or -1.
int readiness_fd();

}  // namespace ws::daemon
