// chat_ring_check.hpp: what the chat ring tests share: reading everything
// into a list, and messages that say who wrote them and check themselves.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/chat_ring.hpp"

namespace chat_check {

struct Message {
  uint64_t sender;
  std::string text;
};

// Everything from `cursor` on (up to max_bytes), as one read hands it out.
inline std::vector<Message> read_all(ws::ChatRing& ring, ws::ChatCursor& cursor,
                                     ws::ChatRing::ReadResult* result = nullptr, size_t max_bytes = SIZE_MAX) {
  std::vector<Message> got;
  auto r = ring.read(cursor, max_bytes,
                     [&](uint64_t sender, std::string_view m) { got.push_back({sender, std::string(m)}); });
  if (result) *result = r;
  return got;
}

// A message that says who wrote it and checks itself: "w:i:" then filler.
inline std::string patterned(int writer, int index, size_t filler) {
  return std::to_string(writer) + ":" + std::to_string(index) + ":" +
         std::string(filler, static_cast<char>('a' + (writer * 7 + index) % 26));
}

inline bool parse_patterned(std::string_view m, int& writer, int& index) {
  size_t first = m.find(':'), second = first == m.npos ? m.npos : m.find(':', first + 1);
  if (second == m.npos || first == 0 || second == first + 1 || first > 4 || second - first > 8) return false;
  writer = std::atoi(std::string(m.substr(0, first)).c_str());
  index = std::atoi(std::string(m.substr(first + 1, second - first - 1)).c_str());
  return patterned(writer, index, m.size() - second - 1) == m;
}

}  // namespace chat_check
