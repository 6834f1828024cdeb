#include "wsserver/chat_ring.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "wsserver/config.hpp"

// Why one shared ring, and not a queue or pipe per worker, or a broker process:
//
// Correctness first. The ring's byte order IS the global order: a writer
// holds the lock only to copy one entry to the end, so every reader walks the
// same entries in the same order, with no sequencing protocol. A writer that
// dies mid-copy never published (committed_end is its last store), and the
// robust mutex lets the next writer carry on over it; its stray bytes lie past
// committed_end, where no reader looks, and reserved_end, which never goes
// back, still tells readers what it may have overwritten. Readers copy
// straight from shared memory and take no lock, so nothing a reader does or
// suffers (slowness, a crash) can stall a writer or another reader; the only
// failure is a reader lapped by the writers, which it detects seqlock-style
// (copy, then check that reserved_end has not reached the bytes it copied)
// and which drops only that reader's client.
//
// Speed second. A message costs its writer one copy and one kill() per reader
// that sleeps; a reader copies a run of entries out in one memcpy (one per
// message at most) and validates the run with one load. Per-worker queues
// would cost the writer a copy per reader and a policy for a full queue;
// a broker adds a hop per message and a process whose death stops the chat.

namespace ws {

static_assert(ChatRing::max_readers == max_workers_limit, "one reader record per scoreboard slot");
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<int32_t>::is_always_lock_free,
              "shared-memory atomics must not hide a process-local lock");
static_assert(sizeof(size_t) >= 8, "capacities and positions are 64-bit");

namespace {

// An entry: [length][sequence][sender id][message][padding to 8 bytes]. Every
// entry starts 8-aligned, so at least one word fits before the ring's end and
// a wrap marker always has room.
constexpr uint64_t word = 8;
constexpr uint64_t entry_header = 3 * word;
constexpr uint64_t wrap_marker = ~uint64_t{0};  // in the length word: go to the next lap

constexpr uint64_t round_up(uint64_t n, uint64_t unit) { return (n + unit - 1) / unit * unit; }
constexpr uint64_t entry_size(uint64_t length) { return entry_header + round_up(length, word); }

constexpr size_t min_capacity = size_t{8} << 20;
// A read's scratch buffer is kept for the next read up to this size; one
// huge message must not pin its size in a worker for the worker's life.
constexpr size_t scratch_keep = size_t{4} << 20;
constexpr size_t max_capacity = size_t{16} << 30;

struct ReaderRecord {
  std::atomic<int32_t> pid{0};
  std::atomic<uint32_t> waiting{0};
};

// Holds the ring's lock; takes it over from a writer that died holding it.
// With a deadline (CLOCK_MONOTONIC) it may give up: held() says.
class Locked {
 public:
  explicit Locked(pthread_mutex_t& mutex, const timespec* deadline = nullptr) : mutex_(mutex) {
    int rc = deadline ? pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, deadline) : pthread_mutex_lock(&mutex_);
    if (rc == ETIMEDOUT) return;
    if (rc == EOWNERDEAD) {
      // The dead holder had not stored committed_end, or had finished: the
      // ring up to committed_end is whole either way. Cannot fail: we hold a
      // robust mutex that is marked inconsistent.
      pthread_mutex_consistent(&mutex_);
    } else if (rc != 0) {
      throw std::system_error(rc, std::generic_category(), "pthread_mutex_lock() failed for the chat ring");
    }
    held_ = true;
  }
  ~Locked() {
    if (held_) pthread_mutex_unlock(&mutex_);  // cannot fail: we hold it
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  bool held() const { return held_; }

 private:
  pthread_mutex_t& mutex_;
  bool held_ = false;
};

}  // namespace

// Everything the processes share besides the ring bytes. All-zero memory is
// an empty ring with no readers; only the mutex needs initialising.
struct ChatRing::Shared {
  pthread_mutex_t lock;
  // Written by writers under the lock, read by anyone. Positions are logical
  // byte offsets that only grow; physical = logical % capacity.
  alignas(64) std::atomic<uint64_t> reserved_end{0};   // how far writing may have reached
  std::atomic<uint64_t> committed_end{0};               // end of the last whole entry
  std::atomic<uint64_t> next_sequence{0};
  std::atomic<uint32_t> accepting{0};                   // set_accepting(): the chat bus's flag
  alignas(64) std::atomic<int32_t> reader_slots{0};    // 1 + highest slot ever attached
  ReaderRecord readers[max_readers];
};

namespace {

uint64_t* word_at(unsigned char* ring, uint64_t capacity, uint64_t position) {
  return reinterpret_cast<uint64_t*>(ring + position % capacity);
}

// Header words are atomic so that a reader racing a writer gets one value,
// old or new, to bounds-check; the message bytes are plain memcpy, as in any
// seqlock, and are trusted only once the copy is validated.
uint64_t load_word(unsigned char* ring, uint64_t capacity, uint64_t position) {
  return std::atomic_ref<uint64_t>(*word_at(ring, capacity, position)).load(std::memory_order_relaxed);
}

void store_word(unsigned char* ring, uint64_t capacity, uint64_t position, uint64_t value) {
  std::atomic_ref<uint64_t>(*word_at(ring, capacity, position)).store(value, std::memory_order_relaxed);
}

}  // namespace

std::optional<ChatRing> ChatRing::create(size_t capacity_bytes, std::string* error) {
  auto fail = [error](const std::string& why) -> std::optional<ChatRing> {
    if (error) *error = why;
    return std::nullopt;
  };
  long page_size = sysconf(_SC_PAGESIZE);
  const size_t page = page_size > 0 ? static_cast<size_t>(page_size) : 4096;  // sysconf cannot really fail here
  if (capacity_bytes > max_capacity) return fail("chat ring capacity above 16 GiB");
  const size_t capacity = round_up(std::max(capacity_bytes, page), page);
  const size_t header = round_up(sizeof(Shared), page);
  // Pages are only backed once written, so the ring costs memory as traffic
  // first sweeps through it (and keeps it: shared memory is not reclaimed).
  void* p = mmap(nullptr, header + capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return fail(std::string("mmap() failed for the chat ring: ") + std::strerror(errno));
  ChatRing ring;
  ring.shared_ = new (p) Shared;
  ring.ring_ = static_cast<unsigned char*>(p) + header;
  ring.capacity_ = capacity;
  ring.mapped_ = header + capacity;

  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&ring.shared_->lock, &attr);
  pthread_mutexattr_destroy(&attr);  // cannot fail on an initialised attribute object
  if (rc != 0) return fail(std::string("cannot set up the chat ring's mutex: ") + std::strerror(rc));
  return std::optional<ChatRing>(std::move(ring));
}

size_t ChatRing::capacity_for(size_t max_message) {
  const size_t largest = std::min<size_t>(max_message, max_capacity / 4 - entry_header - word);
  const size_t wanted = std::clamp<size_t>(4 * entry_size(largest), min_capacity, max_capacity);
  return round_up(wanted, size_t{1} << 20);
}

ChatRing::ChatRing(ChatRing&& other) noexcept
    : shared_(std::exchange(other.shared_, nullptr)),
      ring_(std::exchange(other.ring_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      scratch_(std::move(other.scratch_)) {}

ChatRing& ChatRing::operator=(ChatRing&& other) noexcept {
  std::swap(shared_, other.shared_);
  std::swap(ring_, other.ring_);
  std::swap(capacity_, other.capacity_);
  std::swap(mapped_, other.mapped_);
  std::swap(scratch_, other.scratch_);
  return *this;
}

ChatRing::~ChatRing() {
  // The mutex is not destroyed: other processes may still be using it, and
  // the memory goes away with the last mapping. munmap() of our own mapping
  // cannot fail.
  if (shared_) munmap(shared_, mapped_);
}

size_t ChatRing::max_message() const { return capacity_ - entry_header; }

uint64_t ChatRing::publish(std::string_view message, uint64_t sender_id) {
  if (message.size() > max_message()) throw std::length_error("chat message longer than the ring");
  uint64_t sequence;
  {
    Locked lock(shared_->lock);
    sequence = append_locked(message, sender_id);
  }
  wake_readers();
  return sequence;
}

// Whatever a worker may have scribbled over the shared header, every write
// below stays inside the ring (positions are taken modulo its capacity), so
// the master can publish without trusting that memory.
std::optional<uint64_t> ChatRing::publish_within(std::string_view message, uint64_t sender_id, int timeout_ms) {
  if (message.size() > max_message()) throw std::length_error("chat message longer than the ring");
  timespec deadline{};
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec += 1, deadline.tv_nsec -= 1000000000L;
  uint64_t sequence;
  {
    Locked lock(shared_->lock, &deadline);
    if (!lock.held()) return std::nullopt;
    sequence = append_locked(message, sender_id);
  }
  wake_readers();
  return sequence;
}

uint64_t ChatRing::append_locked(std::string_view message, uint64_t sender_id) {
  const uint64_t size = entry_size(message.size());
  const uint64_t end_before = shared_->committed_end.load(std::memory_order_relaxed);
  const uint64_t room = capacity_ - end_before % capacity_;
  // An entry never straddles the ring's end, so a reader copies it whole.
  const uint64_t start = size > room ? end_before + room : end_before;
  const uint64_t end = start + size;
  // Never lowered: a writer that died may have scribbled further than this
  // entry reaches, and readers must keep treating those bytes as gone.
  if (end > shared_->reserved_end.load(std::memory_order_relaxed))
    shared_->reserved_end.store(end, std::memory_order_relaxed);
  // Pairs with a reader's acquire fence after its copy: a reader that copied
  // any byte written below also sees the reservation above.
  std::atomic_thread_fence(std::memory_order_release);
  // Taken before the copy so that a writer dying mid-copy leaves a gap in
  // the numbers, never a number used twice.
  const uint64_t sequence = shared_->next_sequence.load(std::memory_order_relaxed);
  shared_->next_sequence.store(sequence + 1, std::memory_order_relaxed);
  if (start != end_before) store_word(ring_, capacity_, end_before, wrap_marker);
  store_word(ring_, capacity_, start, message.size());
  store_word(ring_, capacity_, start + word, sequence);
  store_word(ring_, capacity_, start + 2 * word, sender_id);
  std::memcpy(ring_ + (start + entry_header) % capacity_, message.data(), message.size());
  // Sequentially consistent: this store and prepare_wait()'s flag store
  // are the two halves of the no-lost-wake-up handshake.
  shared_->committed_end.store(end, std::memory_order_seq_cst);
  return sequence;
}

void ChatRing::set_accepting(bool accepting) { shared_->accepting.store(accepting ? 1 : 0, std::memory_order_seq_cst); }

bool ChatRing::accepting() const { return shared_->accepting.load(std::memory_order_seq_cst) != 0; }

void ChatRing::wake_readers() {
  const int32_t slots = shared_->reader_slots.load(std::memory_order_seq_cst);
  for (int32_t i = 0; i < slots; ++i) {
    ReaderRecord& reader = shared_->readers[i];
    // Look before swapping: during a burst most readers are awake, and a
    // swap would write to every reader's cache line on every message.
    if (reader.waiting.load(std::memory_order_seq_cst) == 0) continue;
    if (reader.waiting.exchange(0, std::memory_order_seq_cst) == 0) continue;
    const int32_t pid = reader.pid.load(std::memory_order_relaxed);
    // pid 0 or below would signal a whole process group. A failed kill()
    // means the reader's process is gone (ESRCH); its slot will be detached
    // by the master, and there is nobody left to wake.
    if (pid > 0) kill(pid, wake_signal);
  }
}

ChatCursor ChatRing::join() {
  // Under the lock, so the position and the sequence number belong together.
  Locked lock(shared_->lock);
  return {shared_->committed_end.load(std::memory_order_relaxed),
          shared_->next_sequence.load(std::memory_order_relaxed)};
}

namespace {

// A run of whole entries from one position, all before the ring's end.
struct Run {
  uint64_t bytes = 0;
  size_t spent = 0;     // the budget the run's messages use
  bool wraps = false;   // ends at a wrap marker
  bool broken = false;  // a header that cannot be right: the reader was lapped
};

// Finds the run from the entry headers. The headers may be being
// overwritten by a writer that lapped this reader, so they are only
// bounds-checked here; the caller trusts the run once its copy is validated.
Run plan_run(unsigned char* ring, uint64_t capacity, uint64_t from, uint64_t committed, size_t budget) {
  Run run;
  const uint64_t lap_end = from - from % capacity + capacity;
  const uint64_t limit = std::min(committed, lap_end);
  uint64_t at = from;
  while (at < limit && run.spent < budget) {
    const uint64_t length = load_word(ring, capacity, at);
    if (length == wrap_marker) {
      run.wraps = true;
      run.broken = committed < lap_end;
      break;
    }
    if (length > capacity - entry_header || entry_size(length) > limit - at) {
      run.broken = true;
      break;
    }
    at += entry_size(length);
    run.spent += length + 1;
  }
  run.bytes = at - from;
  return run;
}

// Copies the run out of the ring; false if a writer may have overwritten
// any of it meanwhile.
bool copy_run(const std::atomic<uint64_t>& reserved_end, const unsigned char* ring, uint64_t capacity,
              uint64_t from, const Run& run, std::string& scratch) {
  scratch.assign(reinterpret_cast<const char*>(ring + from % capacity), run.bytes);
  // Pairs with publish()'s release fence: if the copy saw any byte of a
  // writer that lapped us, this load sees that writer's reservation.
  std::atomic_thread_fence(std::memory_order_acquire);
  return reserved_end.load(std::memory_order_relaxed) <= from + capacity;
}

// Hands the validated entries in `scratch` to `fn`; false if they are not
// the entries that follow `cursor`.
bool deliver_run(const std::string& scratch, const Run& run, uint64_t capacity, ChatCursor& cursor,
                 const ChatRing::SequencedCallback& fn, ChatRing::ReadResult& result) {
  for (uint64_t at = 0; at < run.bytes;) {
    uint64_t length, sequence, sender;
    std::memcpy(&length, scratch.data() + at, word);
    std::memcpy(&sequence, scratch.data() + at + word, word);
    std::memcpy(&sender, scratch.data() + at + 2 * word, word);
    if (sequence < cursor.sequence) return false;
    fn(sequence, sender, std::string_view(scratch.data() + at + entry_header, length));
    at += entry_size(length);
    cursor.position += entry_size(length);
    cursor.sequence = sequence + 1;
    ++result.messages;
  }
  if (run.wraps) cursor.position += capacity - cursor.position % capacity;
  return true;
}

}  // namespace

ChatRing::ReadResult ChatRing::read(ChatCursor& cursor, size_t max_bytes, const Callback& fn) {
  return read(cursor, max_bytes, [&fn](uint64_t, uint64_t sender, std::string_view message) { fn(sender, message); });
}

ChatRing::ReadResult ChatRing::read(ChatCursor& cursor, size_t max_bytes, const SequencedCallback& fn) {
  ReadResult result;
  const uint64_t committed = shared_->committed_end.load(std::memory_order_acquire);
  // A cursor past the end or off the entry grid is not one this ring gave out.
  bool intact = cursor.position <= committed && cursor.position % word == 0;
  size_t budget = max_bytes;
  while (intact && budget > 0 && cursor.position < committed) {
    const Run run = plan_run(ring_, capacity_, cursor.position, committed, budget);
    // A broken run in intact bytes, or entries out of sequence, cannot
    // happen; a reader that cannot trust its position is treated as lapped
    // rather than fed guesses.
    intact = copy_run(shared_->reserved_end, ring_, capacity_, cursor.position, run, scratch_) && !run.broken &&
             deliver_run(scratch_, run, capacity_, cursor, fn, result);
    budget -= std::min(budget, run.spent);
  }
  if (scratch_.capacity() > scratch_keep) std::string().swap(scratch_);
  result.status = intact ? ReadStatus::ok : ReadStatus::overrun;
  result.more = intact && cursor.position < committed;
  return result;
}

void ChatRing::attach(int slot, int pid) {
  if (slot < 0 || slot >= max_readers) throw std::out_of_range("chat reader slot out of range");
  ReaderRecord& reader = shared_->readers[slot];
  reader.waiting.store(0, std::memory_order_relaxed);
  reader.pid.store(pid, std::memory_order_relaxed);
  // Sequentially consistent, like the handshake: a writer that commits after
  // this reader's prepare_wait() scans far enough to find it.
  int32_t slots = shared_->reader_slots.load(std::memory_order_seq_cst);
  while (slots <= slot && !shared_->reader_slots.compare_exchange_weak(slots, slot + 1, std::memory_order_seq_cst)) {
  }
}

void ChatRing::detach(int slot) {
  if (slot < 0 || slot >= max_readers) throw std::out_of_range("chat reader slot out of range");
  ReaderRecord& reader = shared_->readers[slot];
  reader.pid.store(0, std::memory_order_relaxed);
  reader.waiting.store(0, std::memory_order_relaxed);
}

bool ChatRing::prepare_wait(int slot, const ChatCursor& cursor) {
  ReaderRecord& reader = shared_->readers[slot];
  // Flag first, then look: a publish either committed before the look (we
  // see it and do not sleep) or scans the flags after it (and signals us).
  reader.waiting.store(1, std::memory_order_seq_cst);
  if (shared_->committed_end.load(std::memory_order_seq_cst) == cursor.position) return true;
  reader.waiting.store(0, std::memory_order_relaxed);
  return false;
}

void ChatRing::finish_wait(int slot) { shared_->readers[slot].waiting.store(0, std::memory_order_relaxed); }

void ChatRing::abandon_publish(size_t scribble_bytes) {
  // Deliberately never unlocked: the caller dies holding the lock.
  int rc = pthread_mutex_lock(&shared_->lock);
  if (rc == EOWNERDEAD) pthread_mutex_consistent(&shared_->lock);
  const uint64_t from = shared_->committed_end.load(std::memory_order_relaxed);
  const uint64_t end = from + scribble_bytes;
  if (end > shared_->reserved_end.load(std::memory_order_relaxed))
    shared_->reserved_end.store(end, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  shared_->next_sequence.fetch_add(1, std::memory_order_relaxed);
  // Zeros read as a run of well-formed empty entries: only reserved_end
  // tells a reader they are not real.
  for (uint64_t at = from; at < end; ++at) ring_[at % capacity_] = 0;
}

}  // namespace ws
