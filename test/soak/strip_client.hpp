// strip_client.hpp: one strip client at a time, of a random kind:
// pipelined messages in random splits, an exit command, a half-close with
// a final unterminated message, a slow reader, a reset (SO_LINGER 0), a
// message of megabytes, a datagram. Every reply is checked byte for byte.
#pragma once

#include <vector>

#include "ledger.hpp"
#include "payload.hpp"
#include "wire.hpp"

namespace soak {

struct StripTargets {
  int server = 0;                  // the ledger's index of the strip server
  std::vector<Endpoint> streams;   // tcp and unix listeners
  std::vector<Endpoint> datagrams; // udp listeners
};

// Runs one client of a random kind and records its outcome in `ledger`.
void run_strip_client(const StripTargets& targets, Ledger& ledger, Rng& rng);

}  // namespace soak
