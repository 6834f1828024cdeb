#include "wsserver/auth_limit.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>
#include <utility>

namespace ws {
namespace {

struct Entry {
  IpAddress ip;  // AF_UNSPEC: a free entry
  int32_t failures = 0;
  int64_t window_start = 0;
  int64_t blocked_until = 0;
  int64_t last_seen = 0;
};

bool same(const IpAddress& a, const IpAddress& b) { return a.family == b.family && a.bytes == b.bytes; }

}  // namespace

struct AuthLimit::Shared {
  pthread_mutex_t lock;
  Entry table[entries];
};

namespace {

// Holds the table's lock, taking it over from a worker that died holding
// it: at worst one entry is half-written, which only miscounts one address.
class Locked {
 public:
  explicit Locked(pthread_mutex_t& mutex) : mutex_(mutex) {
    int rc = pthread_mutex_lock(&mutex_);
    if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&mutex_);
    held_ = rc == 0;
  }
  ~Locked() {
    if (held_) pthread_mutex_unlock(&mutex_);
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  // False only if the lock is unrecoverable: then nothing is counted or refused.
  bool held() const { return held_; }

 private:
  pthread_mutex_t& mutex_;
  bool held_ = false;
};

Entry* find(Entry* table, const IpAddress& ip) {
  for (int i = 0; i < AuthLimit::entries; ++i)
    if (same(table[i].ip, ip)) return &table[i];
  return nullptr;
}

// The address's entry, or a free one, or the one heard from longest ago.
Entry& find_or_claim(Entry* table, const IpAddress& ip) {
  if (Entry* e = find(table, ip)) return *e;
  Entry* victim = &table[0];
  for (int i = 0; i < AuthLimit::entries && victim->ip.family != AF_UNSPEC; ++i)
    if (table[i].ip.family == AF_UNSPEC || table[i].last_seen < victim->last_seen) victim = &table[i];
  *victim = Entry{};
  victim->ip = ip;
  return *victim;
}

}  // namespace

AuthLimit AuthLimit::create() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap() failed for the AUTH failure table");
  AuthLimit limit;
  limit.shared_ = new (p) Shared;
  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&limit.shared_->lock, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "cannot set up the AUTH failure table's mutex");
  return limit;
}

AuthLimit::AuthLimit(AuthLimit&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}

AuthLimit& AuthLimit::operator=(AuthLimit&& other) noexcept {
  std::swap(shared_, other.shared_);
  return *this;
}

AuthLimit::~AuthLimit() {
  // Other processes may still use the mutex: only our mapping goes.
  if (shared_) munmap(shared_, sizeof(Shared));
}

bool AuthLimit::record_failure(const IpAddress& ip, int64_t now_ms, int max_failures, bool* started) {
  *started = false;
  if (!shared_ || ip.family == AF_UNSPEC || max_failures <= 0) return false;
  Locked locked(shared_->lock);
  if (!locked.held()) return false;
  Entry& e = find_or_claim(shared_->table, ip);
  e.last_seen = now_ms;
  if (e.blocked_until > now_ms) return true;
  if (e.failures == 0 || now_ms - e.window_start >= window_ms) {
    e.window_start = now_ms;
    e.failures = 0;
  }
  if (++e.failures <= max_failures) return false;
  e.blocked_until = now_ms + window_ms;
  *started = true;
  return true;
}

bool AuthLimit::blocked(const IpAddress& ip, int64_t now_ms) {
  if (!shared_ || ip.family == AF_UNSPEC) return false;
  Locked locked(shared_->lock);
  if (!locked.held()) return false;
  Entry* e = find(shared_->table, ip);
  return e && e->blocked_until > now_ms;
}

}  // namespace ws
