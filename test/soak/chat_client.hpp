// chat_client.hpp: chat clients, one scenario at a time: a group of 3 to 5
// clients that find each other, then exchange numbered messages that every
// other member must receive intact, in order, in one global order (one
// member may send an oversized message and get ERR message too long; one
// may end with an unterminated message and a half-close); a sleeper that
// never reads (chat_backlog cuts it); a client that talks and resets; a
// client that sends more than chat_backlog at once (and is not cut for it).
#pragma once

#include <vector>

#include "ledger.hpp"
#include "payload.hpp"
#include "wire.hpp"

namespace soak {

struct ChatTargets {
  int server = 0;  // the ledger's index of the chat server
  std::vector<Endpoint> streams;
  size_t max_message = 4096;
  size_t backlog = 32768;  // chat_backlog
  std::string access_log;  // the server's, to tell its own cuts (too-slow) apart
};

void run_chat_client(const ChatTargets& targets, Ledger& ledger, Rng& rng);

}  // namespace soak
