// worker.hpp: a worker process. It accepts one client at a time, serves it
// until it leaves, and goes back to accept. What the master's signals mean
// to it is ws::worker_signal (signals.hpp); ChatRing::wake_signal says
// another worker published a chat message.
#pragma once

#include <span>
#include <string>

#include "wsserver/access.hpp"
#include "wsserver/auth_limit.hpp"
#include "wsserver/chat_ring.hpp"
#include "wsserver/config.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/privileges.hpp"
#include "wsserver/scoreboard.hpp"

namespace ws {

// What a worker takes from the master at fork; it all stays valid in the
// child because the child has its own copy of the master's memory.
struct WorkerSetup {
  const Config* config;
  const std::vector<Listener>* listeners;
  Scoreboard* board;
  int slot;
  int master_pid;
  std::span<const int> master_only_fds;  // pid file lock, control socket... (the master's list)
  const Identity* identity;
  const std::string* secret;         // null: no authentication
  const AccessRules* access;
  int handoff_fd;                    // clients passed by the master, or -1
  ChatRing* chat;                    // the chat service's ring, or null
  AuthLimit* auth_limit = nullptr;   // failed AUTHs per address, shared by all workers
  ChatRing* chat_outbox = nullptr;   // with a chat bus: what the bus publishes (bus.hpp)
  const std::string* ws_page = nullptr;  // what GET / answers on ws: listeners
};

// Runs in the child right after fork; never returns.
[[noreturn]] void run_worker(const WorkerSetup& setup);

}  // namespace ws
