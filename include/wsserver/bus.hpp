// bus.hpp: chat across hosts through Redis pub/sub (SPEC section 11).
//
// Who owns the Redis connections: a bus process of its own, forked and
// supervised by the master like a worker (respawned with back-off when it
// dies, stopped after the last worker at a stop). The master stays a
// supervisor that never waits on the network, and a worker never holds a
// connection that outlives its client. The bus process holds two
// connections, because a subscribed connection cannot publish:
//
//   workers --(outbox ring)--> bus --PUBLISH--> Redis channel
//   Redis channel --SUBSCRIBE--> bus --(chat ring)--> workers --> clients
//
// A client's message goes into the outbox (a second ChatRing) instead of the
// chat ring; the bus publishes it; what comes back from the subscription,
// this instance's own messages included, is what goes into the chat ring.
// Every instance so delivers Redis's one order, never a local shortcut.
//
// Each payload carries its instance (a random 64-bit origin), the outbox
// sequence number of the message and the sending client's id. Per origin the
// numbers rise by one, so a receiver sees a message lost in flight (Redis
// killed with PUBLISHes unread, a subscription that broke) as a jump, and
// puts a gap entry in the ring: every client gets `ERR chat gap N`. A number
// not above the last one seen is a repeat and is dropped: nobody sees a
// message twice. Gaps count the messages of all the origin's clients, the
// receiver's own included.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wsserver/chat_ring.hpp"
#include "wsserver/privileges.hpp"

namespace ws {

// chat_bus = redis://HOST:PORT[/CHANNEL]
struct BusUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 one (written in brackets in the URL)
  uint16_t port = 0;
  std::string channel = "wsserver";
  std::string text() const;  // redis://HOST:PORT/CHANNEL, for logs and status
};
// HOST: letters, digits, '.', '-', '_' or a bracketed IPv6 address; PORT 1
// to 65535; CHANNEL 1 to 128 bytes of letters, digits and ".-_:" (no
// glob characters: it is a channel name, never a pattern).
std::optional<BusUrl> parse_bus_url(std::string_view text, std::string* error);

// One message on the channel: "ws1 ORIGIN SEQUENCE SENDER TEXT", the three
// numbers in lowercase hex. TEXT is the rest, any bytes.
struct BusEnvelope {
  uint64_t origin = 0;
  uint64_t sequence = 0;
  uint64_t sender = 0;
  std::string_view text;
};
std::string bus_payload(const BusEnvelope& envelope);
std::optional<BusEnvelope> parse_bus_payload(std::string_view payload);

// The per-origin sequence check (see the top of this file).
class GapTracker {
 public:
  struct Verdict {
    bool deliver = false;  // false: a repeat or an older message, dropped
    uint64_t lost = 0;     // messages of this origin missed just before it
  };
  Verdict accept(uint64_t origin, uint64_t sequence);

 private:
  // Bounded: past this many origins the table starts again (a storm of
  // foreign origins cannot grow it); an origin seen anew has no gap.
  static constexpr size_t max_origins = 4096;
  std::unordered_map<uint64_t, uint64_t> next_;  // origin -> the sequence number expected next
};

// Shared memory the master maps before forking the bus: the bus writes its
// state and counters, the master only reads them (for -s status) and treats
// them as numbers it does not trust for anything else. It also keeps the
// bus's outbox cursor, so that a respawned bus goes on where the last one
// stopped.
enum class BusState : uint32_t { starting = 0, down = 1, up = 2 };
const char* bus_state_name(BusState state);

struct BusStats {
  std::atomic<uint32_t> state{0};
  std::atomic<int64_t> since_ms{0};       // wall clock of the last change of state
  std::atomic<uint64_t> published{0};     // PUBLISHes Redis confirmed
  std::atomic<uint64_t> in_flight{0};     // PUBLISHes sent, not confirmed yet
  std::atomic<uint64_t> received{0};      // messages from the subscription delivered to the ring
  std::atomic<uint64_t> lost{0};          // messages found missing (gap entries' total)
  std::atomic<uint64_t> foreign{0};       // payloads on the channel that were not ours, ignored
  std::atomic<uint64_t> outages{0};
  std::atomic<uint64_t> resume_position{0};  // the outbox cursor, plus one (0: none yet)
  std::atomic<uint64_t> resume_sequence{0};
};
// Anonymous shared memory; nullptr with *error on failure.
BusStats* map_bus_stats(std::string* error);

struct BusSnapshot {
  std::string url;  // empty: no bus
  BusState state = BusState::starting;
  int pid = 0;
  int64_t since_ms = 0;
  uint64_t published = 0, in_flight = 0, received = 0, lost = 0, foreign = 0, outages = 0, restarts = 0;
};
BusSnapshot read_bus_stats(const BusStats& stats);

// What the bus process takes from the master at fork.
struct BusSetup {
  BusUrl url;
  uint64_t origin = 0;
  ChatRing* ring = nullptr;    // the chat ring, where received messages go
  ChatRing* outbox = nullptr;  // this instance's messages to publish
  BusStats* stats = nullptr;
  size_t max_message = 0;      // longer messages from elsewhere are not delivered (a gap)
  std::vector<int> close_fds;  // the master's and the listeners' descriptors
  const Identity* identity = nullptr;
  int master_pid = 0;
};

// Runs in the child right after fork; never returns.
[[noreturn]] void run_bus(const BusSetup& setup);

// A random origin for this instance (getrandom; the time and pid if that fails).
uint64_t new_bus_origin();

}  // namespace ws
