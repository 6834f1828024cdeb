// handoff.hpp: passing an accepted client from the master to whichever
// worker is idle, over a Unix socket pair that every worker inherits
// (SCM_RIGHTS). With overflow = reject, the master accepts only when every
// worker is busy; if one turns idle meanwhile, the client is handed to it
// instead of being rejected.
#pragma once

#include "wsserver/fd.hpp"

namespace ws {

struct Handoff {
  Fd master_end;  // the master sends here
  Fd worker_end;  // workers receive here (watched with EPOLLEXCLUSIVE)
};

bool open_handoff(Handoff* handoff);
// Master: passes `fd` and the one byte `tag` with it (the caller still
// closes its copy). False if it could not.
bool send_client(int handoff_fd, int fd, unsigned char tag);
// Worker: a client passed by the master, or -1 if none waits; *tag gets the
// byte sent with it.
int receive_client(int handoff_fd, unsigned char* tag);

}  // namespace ws
