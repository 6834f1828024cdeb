// remote.hpp: `wsserver -s ACTION`: act on the running master found through
// the pid file, as nginx -s does.
//   stop    fast stop (SIGINT), waits until the master is gone
//   quit    graceful stop (SIGQUIT), waits until the master is gone
//   reload  SIGHUP      reopen  SIGUSR1
//   status  asks the control socket; exit 0 running, 3 not running
//   upgrade asks the control socket (as SIGUSR2 does) and waits for the
//           new master: exit 0 once it is ready, 1 with the reason
#pragma once

#include "wsserver/cli.hpp"

namespace ws {

// Returns the process exit status.
int act_on_master(const Options& options);

}  // namespace ws
