// chaos.hpp: while the clients run, kill -9 random workers (each stopped
// first so that the clients it serves are known exactly), reload (HUP),
// grow (TTIN) or shrink (TTOU) the pools and reopen the logs (USR1), at
// random intervals.
#pragma once

#include <atomic>
#include <vector>

#include "ledger.hpp"
#include "payload.hpp"
#include "soak_server.hpp"

namespace soak {

// Acts until `until`; its figures go to the ledger ("kills", "reloads"...).
void run_chaos(const std::vector<SoakServer*>& servers, Ledger& ledger, Rng& rng, Clock::time_point until);

}  // namespace soak
