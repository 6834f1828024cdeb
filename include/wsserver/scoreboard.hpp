// scoreboard.hpp: a table of worker states in shared memory. Each worker
// writes only its own slot, with plain (relaxed) stores; the master reads every
// slot to size the pool and to answer status, and folds a dead worker's
// counters into its totals before reusing the slot. A worker may be
// compromised or die mid-store: the master never waits on a slot and checks
// every field it reads.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "wsserver/cidr.hpp"
#include "wsserver/clock.hpp"
#include "wsserver/close_reason.hpp"

namespace ws {

enum class WorkerState : uint8_t { empty, starting, idle, busy, exiting };
const char* state_name(WorkerState s);

// The server notices sent to clients, by kind. too_many_clients is the
// master's (overflow = reject); a worker sends the others.
enum class Notice : uint8_t {
  too_many_clients, too_many_from_address, auth_required, auth_failed, auth_timeout, auth_blocked,
  idle_timeout, message_too_slow, message_too_long, too_slow, shutting_down,
};
inline constexpr size_t notice_kinds = static_cast<size_t>(Notice::shutting_down) + 1;
// "too_many_clients": the metrics' label value.
const char* notice_name(Notice n);

// Per-slot counters; also used for totals. Adding saturates: a worker may
// have written anything, and a total must never wrap back to a small number.
struct Counters {
  uint64_t clients = 0, messages = 0, bytes_in = 0, bytes_out = 0, rejected = 0;
  uint64_t chat_published = 0, chat_delivered = 0;
  std::array<uint64_t, close_reason_count> closes{};
  std::array<uint64_t, notice_kinds> notices{};
  Counters& operator+=(const Counters& o);
  // Each field the larger of the two: what a reader has shown once, it never
  // shows less of.
  void raise_to(const Counters& o);
};

struct ClientAddress {
  IpAddress ip;        // family AF_UNSPEC for unix-socket peers
  uint16_t port = 0;
  std::string text() const;
};

// A slot as the master may believe it.
struct SlotReading {
  WorkerState state = WorkerState::busy;
  std::optional<ClientAddress> client;  // busy, and a whole address was read
  Counters counters;
  int64_t since_ms = 0;  // within [0, now]
};

// Cache-line aligned: each worker writes its own slot on every message, and
// two workers must not fight over one line.
class alignas(64) WorkerSlot {
 public:
  // Master side.
  void assign(int pid, uint32_t generation, int64_t now_ms);
  void clear();
  void set_pid(int pid) { pid_.store(pid, std::memory_order_relaxed); }
  // Worker side: cheap stores, no system calls.
  void set_state(WorkerState state, int64_t now_ms);
  void set_client(const ClientAddress& client);
  void add_traffic(uint64_t in, uint64_t out) {
    bytes_in_.store(bytes_in_.load(std::memory_order_relaxed) + in, std::memory_order_relaxed);
    bytes_out_.store(bytes_out_.load(std::memory_order_relaxed) + out, std::memory_order_relaxed);
  }
  void add_messages(uint64_t n) { messages_.store(messages_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void count_client() { clients_.store(clients_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void count_rejected() { rejected_.store(rejected_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  // A connection ended: its reason, and the notice that reason sends.
  void count_close(CloseReason reason);
  void count_notice(Notice kind, uint64_t n = 1) { bump(notices_[static_cast<size_t>(kind)], n); }
  void count_chat(uint64_t published, uint64_t delivered) {
    bump(chat_published_, published);
    bump(chat_delivered_, delivered);
  }

  // Readers.
  int pid() const { return pid_.load(std::memory_order_relaxed); }
  uint32_t generation() const { return generation_.load(std::memory_order_relaxed); }
  // A state no worker writes reads as busy: neither idle nor free.
  WorkerState state() const;
  int64_t since_ms() const { return since_ms_.load(std::memory_order_relaxed); }
  // Nullopt if no whole, valid address could be read in a few tries (a
  // writer is mid-store, died mid-store, or wrote nonsense).
  std::optional<ClientAddress> client() const;
  Counters counters() const;
  // Every field checked; a slot that does not hold `pid` tells nothing.
  SlotReading read(int pid, int64_t now_wall_ms) const;

 private:
  static void bump(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::atomic<int32_t> pid_{0};
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint8_t> state_{0};
  std::atomic<int64_t> since_ms_{0};
  std::atomic<uint64_t> clients_{0}, messages_{0}, bytes_in_{0}, bytes_out_{0}, rejected_{0};
  std::atomic<uint64_t> chat_published_{0}, chat_delivered_{0};
  std::atomic<uint64_t> closes_[close_reason_count]{};
  std::atomic<uint64_t> notices_[notice_kinds]{};
  // The client's address in three words behind a sequence lock, so a reader
  // never sees half of one address and half of another.
  std::atomic<uint32_t> client_seq_{0};
  std::atomic<uint64_t> client_words_[3]{};
};

class Scoreboard {
 public:
  // Maps `slots` slots of anonymous shared memory, inherited by every worker;
  // nothing, with `error` set, if the mapping fails.
  static std::optional<Scoreboard> create(int slots, std::string* error = nullptr);
  Scoreboard() = default;
  Scoreboard(Scoreboard&& other) noexcept;
  Scoreboard& operator=(Scoreboard&& other) noexcept;
  ~Scoreboard();

  int size() const { return size_; }
  WorkerSlot& slot(int i) { return slots_[i]; }
  const WorkerSlot& slot(int i) const { return slots_[i]; }
  // The first empty slot, or -1. Slots past the highest ever used are never
  // read, so scans stay short.
  int free_slot() const;
  // Marks slot i as used (master, before fork).
  void claim(int i);
  // One past the highest slot ever used.
  int used() const { return header_->used.load(std::memory_order_acquire); }
  // Busy workers whose client has this address (for max_per_ip).
  int clients_from(const IpAddress& ip) const;

 private:
  struct alignas(64) Header {
    std::atomic<int> used{0};
  };
  Header* header_ = nullptr;
  WorkerSlot* slots_ = nullptr;
  int size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace ws
