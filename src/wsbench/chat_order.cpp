#include "chat_order.hpp"

namespace wsbench {
namespace {

std::string name(uint32_t id, uint32_t per_client) {
  return "m" + std::to_string(id / per_client) + "." + std::to_string(id % per_client);
}

bool acyclic(const std::vector<std::vector<uint32_t>>& orders, size_t nodes) {
  // The edges in compressed rows: first[n] .. first[n + 1] are n's successors.
  std::vector<uint64_t> first(nodes + 1, 0);
  std::vector<uint32_t> indegree(nodes, 0);
  for (const auto& order : orders)
    for (size_t i = 1; i < order.size(); ++i) {
      ++first[order[i - 1] + 1];
      ++indegree[order[i]];
    }
  for (size_t n = 0; n < nodes; ++n) first[n + 1] += first[n];
  std::vector<uint32_t> next(first[nodes]);
  std::vector<uint64_t> fill(first.begin(), first.end() - 1);
  for (const auto& order : orders)
    for (size_t i = 1; i < order.size(); ++i) next[fill[order[i - 1]]++] = order[i];
  std::vector<uint32_t> ready;
  for (size_t n = 0; n < nodes; ++n)
    if (indegree[n] == 0) ready.push_back(static_cast<uint32_t>(n));
  size_t placed = 0;
  while (!ready.empty()) {
    uint32_t n = ready.back();
    ready.pop_back();
    ++placed;
    for (uint64_t e = first[n]; e < first[n + 1]; ++e)
      if (--indegree[next[e]] == 0) ready.push_back(next[e]);
  }
  return placed == nodes;
}

// Two clients that got two messages in opposite orders, in words.
std::string describe_conflict(const std::vector<std::vector<uint32_t>>& orders, size_t nodes, uint32_t per_client) {
  std::vector<int64_t> position(nodes, -1);
  for (size_t b = 0; b < orders.size(); ++b) {
    for (size_t i = 0; i < orders[b].size(); ++i) position[orders[b][i]] = static_cast<int64_t>(i);
    for (size_t a = 0; a < orders.size(); ++a) {
      if (a == b) continue;
      int64_t last = -1;
      uint32_t last_id = 0;
      for (uint32_t id : orders[a]) {
        if (position[id] < 0) continue;
        if (position[id] < last)
          return "clients " + std::to_string(a) + " and " + std::to_string(b) + " got " + name(last_id, per_client) +
                 " and " + name(id, per_client) + " in opposite orders";
        last = position[id];
        last_id = id;
      }
    }
    for (uint32_t id : orders[b]) position[id] = -1;
  }
  return "the clients' orders contradict each other through three or more clients";
}

}  // namespace

std::string find_order_conflict(const std::vector<std::vector<uint32_t>>& orders, uint32_t per_client) {
  size_t nodes = orders.size() * size_t{per_client};
  if (acyclic(orders, nodes)) return "";
  return describe_conflict(orders, nodes, per_client);
}

}  // namespace wsbench
