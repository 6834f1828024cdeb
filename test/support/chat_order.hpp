// chat_order.hpp (tests): reading what chat clients receive, and comparing
// it. Each message is "cN ...", sent by client N; two clients must agree on
// the order of every message neither of them sent.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"
#include "wait.hpp"

namespace test {

// Reads `count` lines, or what came before the deadline.
inline std::vector<std::string> lines(Client& c, size_t count,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::vector<std::string> out;
  auto deadline = Clock::now() + timeout;
  while (out.size() < count) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto line = left.count() > 0 ? c.reply(left, '\n') : std::nullopt;
    if (!line) break;
    out.push_back(*line);
  }
  return out;
}

// The messages of `seq` not sent by client a or b, in order.
inline std::vector<std::string> without(const std::vector<std::string>& seq, size_t a, size_t b) {
  std::vector<std::string> out;
  for (const auto& m : seq) {
    size_t sender = std::stoul(m.substr(1, m.find(' ') - 1));
    if (sender != a && sender != b) out.push_back(m);
  }
  return out;
}

}  // namespace test
