// chat_ring.hpp: the chat service's fan-out: one byte ring in shared memory
// that every worker appends to and every worker reads from.
//
// Writers append under a robust process-shared mutex; the position of each
// entry in the ring is the one global order every reader sees. Reading takes
// no lock and costs writers nothing: a reader that falls a whole ring behind
// is told it was overrun, and only that reader's client is dropped. One
// ChatRing object serves one reader at a time (a worker's single client).
//
// Wake-up protocol (no lost wake-ups). A worker blocks `wake_signal` always,
// catches it with a handler that only records it (an ignored or default
// SIGURG would not interrupt ppoll), and attach()es its scoreboard slot once.
// Then, per turn of its loop:
//
//     ring.read(cursor, room, fn);   // until not `more`; overrun: drop the client
//     if (ring.prepare_wait(slot, cursor)) {   // says "wake me", re-checks
//       ppoll(fds, n, timeout, &mask_without_wake_signal);
//       ring.finish_wait(slot);
//     }
//     // wake_signal's record only meant "look again": take it and loop.
//
// publish() commits, then for each attached slot whose waiting flag it
// swaps from 1 to 0 sends kill(pid, wake_signal). prepare_wait() sets the
// flag before it re-checks the ring, and publish() commits before it looks
// at the flags (both sequentially consistent), so either the reader sees the
// message and does not sleep or the writer sees the flag and signals. A
// signal sent before the reader reaches ppoll stays pending (it is blocked)
// and ends the ppoll at once. Extra wakes are possible and harmless.
// A reader that stopped reading because its own queue is full must not call
// prepare_wait() (it would return false forever); it waits for its socket.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ws {

// Where a reader is: the ring's logical byte position of the next entry and
// the lowest sequence number it may carry.
struct ChatCursor {
  uint64_t position = 0;
  uint64_t sequence = 0;
};

class ChatRing {
 public:
  // Standard signals coalesce, so a burst of messages costs a sleeping reader
  // one pending signal; nothing else in wsserver sends SIGURG, and the kernel
  // sends it only to sockets given an owner with F_SETOWN, which we never do.
  static constexpr int wake_signal = SIGURG;
  // One reader record per scoreboard slot (max_workers_limit).
  static constexpr int max_readers = 4096;

  enum class ReadStatus { ok, overrun };
  struct ReadResult {
    ReadStatus status = ReadStatus::ok;
    bool more = false;    // max_bytes was reached before the end of the ring
    size_t messages = 0;  // handed to the callback by this call
  };
  using Callback = std::function<void(uint64_t sender_id, std::string_view message)>;
  // The same, with each entry's sequence number (the chat bus publishes it).
  using SequencedCallback = std::function<void(uint64_t sequence, uint64_t sender_id, std::string_view message)>;

  // Sender ids that are no client's (a client's id is its worker's pid << 32
  // plus a count, never below 2^32): a message from nobody (an operator's
  // broadcast, or another instance's client through the chat bus), and an
  // entry that stands for lost messages, its text their count in decimal.
  static constexpr uint64_t nobody = 0;
  static constexpr uint64_t gap_sender = ~uint64_t{0};

  // Maps the ring (rounded up to whole pages) and its header as anonymous
  // shared memory, so that workers forked afterwards share it. Nothing, with
  // `error` set, if the mapping or the mutex cannot be set up or the
  // capacity is above 16 GiB.
  static std::optional<ChatRing> create(size_t capacity_bytes, std::string* error = nullptr);
  // A capacity that holds at least 4 of the largest messages and never less
  // than 8 MiB, so a burst of big messages does not overrun readers that keep
  // up. Clamped to 16 GiB (messages up to 4 GiB): past that the mapping would
  // fail on ordinary hosts anyway, and the arithmetic stays far from overflow.
  static size_t capacity_for(size_t max_message);

  ChatRing() = default;
  ChatRing(ChatRing&& other) noexcept;
  ChatRing& operator=(ChatRing&& other) noexcept;
  ChatRing(const ChatRing&) = delete;
  ChatRing& operator=(const ChatRing&) = delete;
  ~ChatRing();

  size_t capacity() const { return capacity_; }
  // The longest message publish() accepts: one entry filling the whole ring.
  size_t max_message() const;

  // Appends a message, wakes sleeping readers, and returns its sequence
  // number. Numbers rise by one per message in ring order; a writer that
  // dies mid-publish leaves a gap. Throws std::length_error past
  // max_message() and std::system_error if the lock is unusable.
  uint64_t publish(std::string_view message, uint64_t sender_id);
  // The same for the master, which must never block on a lock that a
  // worker holds (a stopped or hostile one): gives up after timeout_ms.
  std::optional<uint64_t> publish_within(std::string_view message, uint64_t sender_id, int timeout_ms);

  // A flag for the chat bus (bus.hpp), in the outbox ring: set while the bus
  // is connected and takes messages, so a worker can refuse a message at once
  // when it is not. All-zero memory: not accepting.
  void set_accepting(bool accepting);
  bool accepting() const;

  // A cursor at the current end: a client that joins gets no history. Takes
  // the lock for a moment, so the position and sequence number agree.
  ChatCursor join();
  // Hands each committed message from `cursor` on to `fn`, in ring order,
  // advancing the cursor. It goes on while the messages handed out so far
  // (each counting its size plus one) total less than max_bytes: max_bytes 0
  // hands out nothing, and a call ends at most one message past max_bytes,
  // so a caller can bound its own queue. `fn` sees bytes already checked not
  // to have been overwritten; they live in this object's scratch buffer, so
  // `fn` must not call read() itself. On `overrun` the reader fell a whole
  // ring behind: what it missed is gone and the cursor is unusable; drop
  // that client (a new join() gives a usable cursor).
  ReadResult read(ChatCursor& cursor, size_t max_bytes, const Callback& fn);
  ReadResult read(ChatCursor& cursor, size_t max_bytes, const SequencedCallback& fn);

  // Reader records: one per worker slot, for wake-ups (see the top of this
  // file). attach() before the first prepare_wait(); the master detach()es
  // the slot of a worker it reaped, before the slot is reused. Slots must be
  // 0 .. max_readers-1 (attach and detach throw std::out_of_range otherwise).
  void attach(int slot, int pid);
  void detach(int slot);
  // True if the caller may sleep: nothing is committed past `cursor`, and a
  // publish from now on will signal it. False: read first, do not sleep.
  // `slot` must be attached, by this process.
  bool prepare_wait(int slot, const ChatCursor& cursor);
  void finish_wait(int slot);

 private:
  struct Shared;
  friend class ChatRingTest;

  void wake_readers();
  uint64_t append_locked(std::string_view message, uint64_t sender_id);
  // Test hook: takes the lock and does the first half of a publish (reserves
  // and zeroes `scribble_bytes` past the end), then returns still holding
  // the lock, so that the test process can die as a writer would mid-copy.
  void abandon_publish(size_t scribble_bytes);

  Shared* shared_ = nullptr;
  unsigned char* ring_ = nullptr;
  size_t capacity_ = 0;
  size_t mapped_ = 0;
  std::string scratch_;  // this process's copy of the entries being read
};

}  // namespace ws
