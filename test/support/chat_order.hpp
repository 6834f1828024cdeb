// chat_order.hpp (tests): comparing what two chat clients received. Each
// message is "cN ...", sent by client N; two clients must agree on the order
// of every message neither of them sent.
#pragma once

#include <string>
#include <vector>

namespace test {

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
