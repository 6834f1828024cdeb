// chat_order.hpp: do all clients see the chat's messages in one global order?
//
// Each client's arrivals say "x before y" for every two messages in a row.
// One order agreeing with all of them exists exactly when those precedences
// have no cycle, which a topological sort (Kahn) finds in time linear in the
// deliveries. Only when it fails does a slower pairwise search name two
// clients and two messages they disagree on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wsbench {

// `orders`: per client, the message ids (sender * per_client + seq) it got,
// in order, each at most once, ids below clients * per_client. Returns ""
// when one global order fits them all, else one disagreement in words.
std::string find_order_conflict(const std::vector<std::vector<uint32_t>>& orders, uint32_t per_client);

}  // namespace wsbench
