#include "wsserver/scoreboard.hpp"

#include <netinet/in.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "wsserver/address.hpp"

namespace ws {

namespace {

// A reader gives up on a slot whose address keeps changing under it, or
// whose writer died between its two stores.
constexpr int client_read_tries = 64;

bool valid_state(uint8_t s) { return s <= static_cast<uint8_t>(WorkerState::exiting); }

}  // namespace

const char* state_name(WorkerState s) {
  switch (s) {
    case WorkerState::empty: return "empty";
    case WorkerState::starting: return "starting";
    case WorkerState::idle: return "idle";
    case WorkerState::busy: return "busy";
    case WorkerState::exiting: return "exiting";
  }
  return "?";
}

const char* notice_name(Notice n) {
  switch (n) {
    case Notice::too_many_clients: return "too_many_clients";
    case Notice::too_many_from_address: return "too_many_from_address";
    case Notice::auth_required: return "auth_required";
    case Notice::auth_failed: return "auth_failed";
    case Notice::auth_timeout: return "auth_timeout";
    case Notice::auth_blocked: return "auth_blocked";
    case Notice::idle_timeout: return "idle_timeout";
    case Notice::message_too_slow: return "message_too_slow";
    case Notice::message_too_long: return "message_too_long";
    case Notice::too_slow: return "too_slow";
    case Notice::shutting_down: return "shutting_down";
  }
  return "?";
}

namespace {

// Every field of Counters, paired with the other's, for the loops below.
template <typename Fn>
void each_pair(Counters& a, const Counters& b, Fn fn) {
  fn(a.clients, b.clients);
  fn(a.messages, b.messages);
  fn(a.bytes_in, b.bytes_in);
  fn(a.bytes_out, b.bytes_out);
  fn(a.rejected, b.rejected);
  fn(a.chat_published, b.chat_published);
  fn(a.chat_delivered, b.chat_delivered);
  for (size_t i = 0; i < close_reason_count; ++i) fn(a.closes[i], b.closes[i]);
  for (size_t i = 0; i < notice_kinds; ++i) fn(a.notices[i], b.notices[i]);
}

}  // namespace

Counters& Counters::operator+=(const Counters& o) {
  each_pair(*this, o, [](uint64_t& a, uint64_t b) { a = a > UINT64_MAX - b ? UINT64_MAX : a + b; });
  return *this;
}

void Counters::raise_to(const Counters& o) {
  each_pair(*this, o, [](uint64_t& a, uint64_t b) { a = std::max(a, b); });
}

std::string ClientAddress::text() const {
  if (ip.family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, ip.bytes.data(), 4);
    in.sin_port = htons(port);
    return format_address(reinterpret_cast<sockaddr*>(&in), sizeof in);
  }
  if (ip.family == AF_INET6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_addr, ip.bytes.data(), 16);
    in6.sin6_port = htons(port);
    return format_address(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  }
  return "unix";
}

void WorkerSlot::assign(int pid, uint32_t generation, int64_t now_ms) {
  clear();
  generation_.store(generation, std::memory_order_relaxed);
  pid_.store(pid, std::memory_order_relaxed);
  since_ms_.store(now_ms, std::memory_order_relaxed);
  state_.store(static_cast<uint8_t>(WorkerState::starting), std::memory_order_release);
}

void WorkerSlot::clear() {
  for (auto* c : {&clients_, &messages_, &bytes_in_, &bytes_out_, &rejected_, &chat_published_, &chat_delivered_})
    c->store(0, std::memory_order_relaxed);
  for (auto& c : closes_) c.store(0, std::memory_order_relaxed);
  for (auto& c : notices_) c.store(0, std::memory_order_relaxed);
  // No worker writes a cleared slot, so the sequence starts over at even
  // whatever a dead worker left in it.
  for (auto& w : client_words_) w.store(0, std::memory_order_relaxed);
  client_seq_.store(0, std::memory_order_release);
  pid_.store(0, std::memory_order_relaxed);
  state_.store(static_cast<uint8_t>(WorkerState::empty), std::memory_order_release);
}

void WorkerSlot::set_state(WorkerState state, int64_t now_ms) {
  since_ms_.store(now_ms, std::memory_order_relaxed);
  state_.store(static_cast<uint8_t>(state), std::memory_order_release);
}

void WorkerSlot::set_client(const ClientAddress& client) {
  uint64_t words[3];
  std::memcpy(words, client.ip.bytes.data(), 16);
  words[2] = static_cast<uint64_t>(client.ip.family) << 16 | client.port;
  uint32_t seq = client_seq_.load(std::memory_order_relaxed) & ~1u;
  client_seq_.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int i = 0; i < 3; ++i) client_words_[i].store(words[i], std::memory_order_relaxed);
  client_seq_.store(seq + 2, std::memory_order_release);
}

void WorkerSlot::count_close(CloseReason reason) {
  if (static_cast<size_t>(reason) < close_reason_count) bump(closes_[static_cast<size_t>(reason)], 1);
  switch (reason) {
    case CloseReason::shutdown: return count_notice(Notice::shutting_down);
    case CloseReason::idle_timeout: return count_notice(Notice::idle_timeout);
    case CloseReason::auth_timeout: return count_notice(Notice::auth_timeout);
    case CloseReason::slow_message: return count_notice(Notice::message_too_slow);
    case CloseReason::too_slow: return count_notice(Notice::too_slow);
    case CloseReason::per_ip_limit: return count_notice(Notice::too_many_from_address);
    case CloseReason::auth_blocked: return count_notice(Notice::auth_blocked);
    default: return;  // no notice, or counted as it was sent (auth_failed, auth_required)
  }
}

WorkerState WorkerSlot::state() const {
  uint8_t s = state_.load(std::memory_order_acquire);
  return valid_state(s) ? static_cast<WorkerState>(s) : WorkerState::busy;
}

std::optional<ClientAddress> WorkerSlot::client() const {
  uint64_t words[3];
  for (int tries = 0;; ++tries) {
    if (tries == client_read_tries) return std::nullopt;
    uint32_t before = client_seq_.load(std::memory_order_acquire);
    for (int i = 0; i < 3; ++i) words[i] = client_words_[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!(before & 1) && client_seq_.load(std::memory_order_relaxed) == before) break;
  }
  uint64_t family = words[2] >> 16;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return std::nullopt;
  ClientAddress c;
  std::memcpy(c.ip.bytes.data(), words, 16);
  c.ip.family = static_cast<int>(family);
  c.port = static_cast<uint16_t>(words[2] & 0xffff);
  return c;
}

SlotReading WorkerSlot::read(int pid, int64_t now_wall_ms) const {
  SlotReading r;
  if (this->pid() != pid) return r;  // busy, no client, no counters
  r.state = state();
  if (r.state == WorkerState::busy) r.client = client();
  r.counters = counters();
  r.since_ms = std::clamp<int64_t>(since_ms(), 0, now_wall_ms);
  return r;
}

Counters WorkerSlot::counters() const {
  Counters c;
  c.clients = clients_.load(std::memory_order_relaxed);
  c.messages = messages_.load(std::memory_order_relaxed);
  c.bytes_in = bytes_in_.load(std::memory_order_relaxed);
  c.bytes_out = bytes_out_.load(std::memory_order_relaxed);
  c.rejected = rejected_.load(std::memory_order_relaxed);
  c.chat_published = chat_published_.load(std::memory_order_relaxed);
  c.chat_delivered = chat_delivered_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < close_reason_count; ++i) c.closes[i] = closes_[i].load(std::memory_order_relaxed);
  for (size_t i = 0; i < notice_kinds; ++i) c.notices[i] = notices_[i].load(std::memory_order_relaxed);
  return c;
}

std::optional<Scoreboard> Scoreboard::create(int slots, std::string* error) {
  size_t bytes = sizeof(Header) + sizeof(WorkerSlot) * static_cast<size_t>(slots);
  // Untouched pages cost nothing, so the table can be sized for the largest pool.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    if (error) *error = std::string("mmap() failed for the scoreboard: ") + std::strerror(errno);
    return std::nullopt;
  }
  static_assert(alignof(WorkerSlot) <= sizeof(Header));
  Scoreboard board;
  board.header_ = static_cast<Header*>(p);
  board.slots_ = reinterpret_cast<WorkerSlot*>(static_cast<char*>(p) + sizeof(Header));
  board.size_ = slots;
  board.bytes_ = bytes;
  // Anonymous memory is zeroed, which is every slot's empty state; slots are
  // not constructed one by one so that pages no worker uses stay untouched.
  return std::optional<Scoreboard>(std::move(board));
}

Scoreboard::Scoreboard(Scoreboard&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)),
      slots_(std::exchange(other.slots_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      bytes_(std::exchange(other.bytes_, 0)) {}

Scoreboard& Scoreboard::operator=(Scoreboard&& other) noexcept {
  std::swap(header_, other.header_);
  std::swap(slots_, other.slots_);
  std::swap(size_, other.size_);
  std::swap(bytes_, other.bytes_);
  return *this;
}

Scoreboard::~Scoreboard() {
  if (header_) munmap(header_, bytes_);
}

int Scoreboard::free_slot() const {
  for (int i = 0; i < size_; ++i)
    if (slots_[i].state() == WorkerState::empty) return i;
  return -1;
}

void Scoreboard::claim(int i) {
  if (i + 1 > header_->used.load(std::memory_order_relaxed)) header_->used.store(i + 1, std::memory_order_release);
}

int Scoreboard::clients_from(const IpAddress& ip) const {
  int n = 0;
  for (int i = 0, end = used(); i < end; ++i) {
    const WorkerSlot& s = slots_[i];
    if (s.state() != WorkerState::busy) continue;
    auto c = s.client();
    n += c && c->ip.family == ip.family && c->ip.bytes == ip.bytes;
  }
  return n;
}


}  // namespace ws
