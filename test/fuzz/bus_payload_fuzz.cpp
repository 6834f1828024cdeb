// libFuzzer target: what the chat bus takes from its Redis channel (SPEC
// section 11), where anyone who may publish can write anything. Properties:
// - a payload is read or refused, never half-read: one that reads writes
//   back to a payload that reads the same (the numbers' spelling aside);
// - the text is the rest of the payload, byte for byte;
// - the gap check never delivers a number twice for one origin, and the
//   gaps it reports add up to the numbers it skipped.
//
// Input: the payload as received.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "wsserver/bus.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto e = ws::parse_bus_payload(payload);
  if (e) {
    FUZZ_CHECK(payload.ends_with(e->text));
    std::string again = ws::bus_payload(*e);
    auto back = ws::parse_bus_payload(again);
    FUZZ_CHECK(back && back->origin == e->origin && back->sequence == e->sequence && back->sender == e->sender &&
               back->text == e->text);
  }
  // The bytes as a run of (origin, sequence) pairs, one byte each.
  ws::GapTracker gaps;
  std::map<uint64_t, uint64_t> next;
  for (size_t i = 0; i + 1 < size; i += 2) {
    uint64_t origin = data[i] % 4, sequence = data[i + 1];
    auto v = gaps.accept(origin, sequence);
    auto it = next.find(origin);
    if (it == next.end()) {
      FUZZ_CHECK(v.deliver && v.lost == 0);
    } else {
      FUZZ_CHECK(v.deliver == (sequence >= it->second));
      FUZZ_CHECK(v.lost == (v.deliver ? sequence - it->second : 0));
    }
    if (v.deliver) next[origin] = sequence + 1;
  }
  return 0;
}
