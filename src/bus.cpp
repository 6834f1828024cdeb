// The chat bus process (bus.hpp): Redis pub/sub between this instance's chat
// ring and every other instance's.
#include "wsserver/bus.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>

#include "wsserver/address.hpp"
#include "wsserver/clock.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/log.hpp"
#include "wsserver/resp.hpp"
#include "wsserver/signals.hpp"

namespace ws {
namespace {

constexpr size_t max_channel = 128;
constexpr std::string_view payload_tag = "ws1 ";

bool host_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'; }
bool channel_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':'; }

std::optional<BusUrl> url_error(std::string* error, const std::string& why) {
  if (error) *error = why;
  return std::nullopt;
}

// One hex field and the space after it, taken off the front of `s`.
bool take_hex(std::string_view& s, uint64_t* out) {
  size_t space = s.find(' ');
  if (space == 0 || space == std::string_view::npos || space > 16) return false;
  for (char c : s.substr(0, space))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  std::from_chars(s.data(), s.data() + space, *out, 16);  // cannot fail: 1 to 16 hex digits
  s.remove_prefix(space + 1);
  return true;
}

std::string hex(uint64_t v) {
  char buf[17];
  auto end = std::to_chars(buf, buf + sizeof buf, v, 16).ptr;
  return std::string(buf, end);
}

}  // namespace

std::string BusUrl::text() const {
  bool v6 = host.find(':') != std::string::npos;
  return "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + channel;
}

std::optional<BusUrl> parse_bus_url(std::string_view text, std::string* error) {
  constexpr std::string_view scheme = "redis://";
  if (!text.starts_with(scheme)) return url_error(error, "expected redis://HOST:PORT[/CHANNEL]");
  text.remove_prefix(scheme.size());
  BusUrl url;
  size_t slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view channel = text.substr(slash + 1);
    if (channel.empty() || channel.size() > max_channel || !std::all_of(channel.begin(), channel.end(), channel_char))
      return url_error(error, "the channel must be 1 to 128 letters, digits or .-_:");
    url.channel = std::string(channel);
  }
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return url_error(error, "a port is needed: redis://HOST:PORT");
  std::string_view host = authority.substr(0, colon);
  auto port = parse_port(authority.substr(colon + 1));
  if (!port || *port == 0) return url_error(error, "the port must be 1 to 65535");
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!std::all_of(host.begin(), host.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; }))
      return url_error(error, "not an IPv6 address in brackets");
  } else if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char)) {
    return url_error(error, "the host must be a name or an address");
  }
  url.host = std::string(host);
  url.port = *port;
  return url;
}

std::string bus_payload(const BusEnvelope& e) {
  std::string out(payload_tag);
  out += hex(e.origin) + ' ' + hex(e.sequence) + ' ' + hex(e.sender) + ' ';
  out += e.text;
  return out;
}

std::optional<BusEnvelope> parse_bus_payload(std::string_view payload) {
  if (!payload.starts_with(payload_tag)) return std::nullopt;
  payload.remove_prefix(payload_tag.size());
  BusEnvelope e;
  if (!take_hex(payload, &e.origin) || !take_hex(payload, &e.sequence) || !take_hex(payload, &e.sender))
    return std::nullopt;
  e.text = payload;
  return e;
}

GapTracker::Verdict GapTracker::accept(uint64_t origin, uint64_t sequence) {
  auto it = next_.find(origin);
  if (it == next_.end()) {
    if (next_.size() >= max_origins) next_.clear();
    next_[origin] = sequence + 1;
    return {true, 0};
  }
  if (sequence < it->second) return {false, 0};
  Verdict v{true, sequence - it->second};
  it->second = sequence + 1;
  return v;
}

const char* bus_state_name(BusState state) {
  switch (state) {
    case BusState::down: return "down";
    case BusState::up: return "up";
    case BusState::starting: break;
  }
  return "starting";
}

BusStats* map_bus_stats(std::string* error) {
  void* p = mmap(nullptr, sizeof(BusStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (error) *error = log::syscall_error("mmap");
    return nullptr;
  }
  return new (p) BusStats;
}

BusSnapshot read_bus_stats(const BusStats& s) {
  BusSnapshot b;
  uint32_t state = s.state.load(std::memory_order_relaxed);
  b.state = state <= 2 ? static_cast<BusState>(state) : BusState::down;
  b.since_ms = s.since_ms.load(std::memory_order_relaxed);
  b.published = s.published.load(std::memory_order_relaxed);
  b.in_flight = s.in_flight.load(std::memory_order_relaxed);
  b.received = s.received.load(std::memory_order_relaxed);
  b.lost = s.lost.load(std::memory_order_relaxed);
  b.foreign = s.foreign.load(std::memory_order_relaxed);
  b.outages = s.outages.load(std::memory_order_relaxed);
  return b;
}

uint64_t new_bus_origin() {
  uint64_t origin = 0;
  if (getrandom(&origin, sizeof origin, 0) != static_cast<ssize_t>(sizeof origin))
    origin = static_cast<uint64_t>(wall_clock_ms()) << 20 ^ static_cast<uint64_t>(getpid());
  return origin;
}

namespace {

// Redis's replies and pushes can be as long as a message plus its envelope.
RespLimits bus_limits(size_t max_message) {
  RespLimits limits;
  limits.max_bulk = std::max<size_t>(max_message + 64, 4096);
  return limits;
}

// How long connecting and subscribing may take, how often a quiet link is
// pinged, and how long an awaited reply may take before Redis counts as gone.
constexpr int64_t connect_timeout_ms = 2000;
constexpr int64_t ping_interval_ms = 1000;
constexpr int64_t reply_timeout_ms = 3000;
constexpr int64_t min_backoff_ms = 100;
constexpr int64_t max_backoff_ms = 5000;
// PUBLISH bytes written and not yet taken by the kernel: the outbox waits
// past this (and may overrun, which shows as a gap).
constexpr size_t max_pending_out = 1 << 20;
constexpr size_t read_chunk = 64 * 1024;

const sigset_t bus_signals = signals::make_set({SIGTERM, SIGUSR1, ChatRing::wake_signal});

// A failure with its reason, in the status + error string style.
bool failed(std::string* why, std::string reason) {
  *why = std::move(reason);
  return false;
}

Fd not_connected(std::string* why, std::string reason) {
  *why = std::move(reason);
  return Fd();
}

// One connection to Redis: bytes to send, bytes received, and the replies it
// owes us (a reply-less link that stays silent past reply_timeout is dead).
struct Link {
  Fd fd;
  RespReader reader;
  std::string in, out;
  size_t fed = 0;
  size_t awaiting = 0;
  int64_t heard_ms = 0;
  int64_t sent_ms = 0;

  explicit Link(const RespLimits& limits) : reader(limits) {}

  void send(std::string_view command, int64_t now) {
    if (awaiting++ == 0) heard_ms = now;  // the clock for this reply starts now
    out += command;
    sent_ms = now;
  }

  // False: the connection failed or closed (why in *why).
  bool flush(std::string* why) {
    while (!out.empty()) {
      ssize_t n = ::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (n < 0) return failed(why, std::string("cannot write to redis: ") + std::strerror(errno));
      out.erase(0, static_cast<size_t>(n));
    }
    return true;
  }

  // Reads what is there; false on EOF or error.
  bool receive(int64_t now, std::string* why) {
    char buf[read_chunk];
    ssize_t n = recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n == 0) return failed(why, "redis closed the connection");
    if (n < 0) return failed(why, std::string("cannot read from redis: ") + std::strerror(errno));
    in.append(buf, static_cast<size_t>(n));
    heard_ms = now;
    return true;
  }

  // The next whole value received, if any; *bad set if the stream is broken.
  std::optional<RespValue> next(std::string* bad) {
    for (;;) {
      if (reader.status() == RespReader::Status::done) return reader.take();
      if (reader.status() == RespReader::Status::bad) {
        *bad = "bad reply from redis: " + std::string(reader.reason());
        return std::nullopt;
      }
      if (fed == in.size()) {
        in.clear();
        fed = 0;
        return std::nullopt;
      }
      fed += reader.feed(std::string_view(in).substr(fed));
    }
  }

  bool overdue(int64_t now) const { return awaiting > 0 && now - heard_ms > reply_timeout_ms; }
};

class Bus {
 public:
  explicit Bus(const BusSetup& setup)
      : s_(setup), stats_(*setup.stats), limits_(bus_limits(setup.max_message)), sub_(limits_), pub_(limits_) {}

  [[noreturn]] void run() {
    set_up();
    for (;;) {
      take_signals();
      if (stopping_) leave();
      if (up_) turn();
      else connect_or_wait();
    }
  }

 private:
  void set_up() {
    signals::clear_all();
    signals::ignore({SIGINT, SIGHUP, SIGTTIN, SIGTTOU, SIGWINCH, SIGQUIT, SIGUSR2});
    signals::restore_default({SIGCHLD});
    signals::catch_signals({SIGTERM, SIGUSR1, ChatRing::wake_signal});
    sigprocmask(SIG_SETMASK, &bus_signals, nullptr);
    sigemptyset(&wait_mask_);
    for (int fd : s_.close_fds) close(fd);
    std::string error;
    if (!drop_privileges(*s_.identity, &error)) {
      log::error("chat bus set-up failed: %s", error.c_str());
      _exit(exit_code::failure);
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != s_.master_pid) stopping_ = true;
    s_.outbox->attach(0, static_cast<int>(getpid()));
    cursor_ = resume_cursor();
  }

  // Where the last bus process stopped reading the outbox, if one ran; a
  // cursor the ring does not recognise reads as overrun and is replaced.
  ChatCursor resume_cursor() {
    uint64_t position = stats_.resume_position.load(std::memory_order_relaxed);
    if (position == 0) return s_.outbox->join();
    return {position - 1, stats_.resume_sequence.load(std::memory_order_relaxed)};
  }

  [[noreturn]] void leave() {
    s_.outbox->set_accepting(false);
    _exit(exit_code::ok);
  }

  void take_signals() {
    signals::take(ChatRing::wake_signal);  // only meant "look again"
    if (signals::take(SIGUSR1)) log::reopen();
    if (signals::take(SIGTERM)) stopping_ = true;
  }

  // Sleeps with the bus's signals open, until `deadline_ms` or an event.
  int wait(pollfd* fds, nfds_t n, int64_t deadline_ms) {
    int64_t ms = std::max<int64_t>(0, deadline_ms - monotonic_ms());
    timespec timeout{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    return ppoll(fds, n, &timeout, &wait_mask_);
  }

  void connect_or_wait() {
    if (monotonic_ms() < retry_at_ms_) {
      wait(nullptr, 0, retry_at_ms_);
      return;
    }
    std::string why;
    if (open_links(&why)) return went_up();
    if (stopping_) return;  // cut short by the stop, not an outage
    went_down(why);
    retry_at_ms_ = monotonic_ms() + backoff_ms_;
    backoff_ms_ = std::min(backoff_ms_ * 2, max_backoff_ms);
  }

  Fd connect_to_redis(std::string* why) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(s_.url.host.c_str(), std::to_string(s_.url.port).c_str(), &hints, &found);
    if (rc != 0) {
      *why = "cannot resolve " + s_.url.host + ": " + gai_strerror(rc);
      return Fd();
    }
    Fd fd;
    for (addrinfo* a = found; a && !fd; a = a->ai_next) fd = connect_one(a, why);
    freeaddrinfo(found);
    return fd;
  }

  Fd connect_one(const addrinfo* a, std::string* why) {
    Fd fd(socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return not_connected(why, log::syscall_error("socket"));
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // latency; failure only costs some
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS)
      return not_connected(why, std::string("cannot connect to redis: ") + std::strerror(errno));
    pollfd p{fd.get(), POLLOUT, 0};
    int64_t deadline = monotonic_ms() + connect_timeout_ms;
    while (p.revents == 0 && monotonic_ms() < deadline && !stopping_) {
      wait(&p, 1, deadline);
      take_signals();
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (p.revents == 0) return not_connected(why, "cannot connect to redis: timed out");
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      return not_connected(why, std::string("cannot connect to redis: ") + std::strerror(err ? err : errno));
    return fd;
  }

  // Subscribes first: our own first message must find our subscription.
  bool open_links(std::string* why) {
    sub_ = Link(limits_);
    pub_ = Link(limits_);
    sub_.fd = connect_to_redis(why);
    if (!sub_.fd) return false;
    int64_t now = monotonic_ms();
    sub_.send(resp_command({"SUBSCRIBE", s_.url.channel}), now);
    if (!await_subscription(why)) return false;
    pub_.fd = connect_to_redis(why);
    return static_cast<bool>(pub_.fd);
  }

  bool await_subscription(std::string* why) {
    int64_t deadline = monotonic_ms() + connect_timeout_ms;
    while (monotonic_ms() < deadline && !stopping_) {
      if (!sub_.flush(why)) return false;
      pollfd p{sub_.fd.get(), POLLIN, 0};
      wait(&p, 1, deadline);
      take_signals();
      if (p.revents && !sub_.receive(monotonic_ms(), why)) return false;
      std::string bad;
      while (auto value = sub_.next(&bad)) {
        if (auto err = resp_error(*value)) return failed(why, "redis refused SUBSCRIBE: " + std::string(*err));
        if (resp_subscribed(*value)) {
          sub_.awaiting = 0;
          return true;
        }
      }
      if (!bad.empty()) return failed(why, bad);
    }
    return failed(why, "no answer to SUBSCRIBE from redis");
  }

  void set_state(BusState state) {
    stats_.state.store(static_cast<uint32_t>(state), std::memory_order_relaxed);
    stats_.since_ms.store(wall_clock_ms(), std::memory_order_relaxed);
  }

  void went_up() {
    up_ = true;
    backoff_ms_ = min_backoff_ms;
    next_ping_ms_ = monotonic_ms() + ping_interval_ms;
    set_state(BusState::up);
    s_.outbox->set_accepting(true);
    if (outage_started_ms_ < 0)
      log::info("chat bus: connected to %s", s_.url.text().c_str());
    else
      log::info("chat bus: redis is back at %s after %.1f s: chat available again", s_.url.text().c_str(),
                static_cast<double>(monotonic_ms() - outage_started_ms_) / 1000.0);
    outage_started_ms_ = -1;
  }

  // Logged once per outage, when it starts; the retries are silent.
  void went_down(const std::string& why) {
    s_.outbox->set_accepting(false);
    bool was_up = up_;
    up_ = false;
    sub_.fd.reset();
    pub_.fd.reset();
    stats_.in_flight.store(0, std::memory_order_relaxed);
    if (outage_started_ms_ >= 0) return;
    outage_started_ms_ = monotonic_ms();
    set_state(BusState::down);
    stats_.outages.fetch_add(1, std::memory_order_relaxed);
    log::warn("chat bus: %s (%s): chat unavailable until it is back%s", why.c_str(), s_.url.text().c_str(),
              was_up ? "" : "; retrying with back-off");
  }

  // One turn while connected: publish what the outbox holds, read both
  // links, ping quiet ones, sleep until something happens.
  void turn() {
    std::string why;
    bool drained = pull_outbox();
    int64_t now = monotonic_ms();
    ping_if_quiet(now);
    if (!pub_.flush(&why) || !sub_.flush(&why)) return went_down(why);
    if (sub_.overdue(now) || pub_.overdue(now)) return went_down("no answer from redis within 3 s");
    pollfd fds[2] = {{sub_.fd.get(), POLLIN, 0},
                     {pub_.fd.get(), static_cast<short>(POLLIN | (pub_.out.empty() ? 0 : POLLOUT)), 0}};
    // Sleeps only with nothing to do: the outbox read to its end (and no
    // message since), or Redis not taking what waits for it.
    bool sleep = drained && s_.outbox->prepare_wait(0, cursor_);
    bool blocked = !drained && pub_.out.size() >= max_pending_out;
    if (sleep || blocked) wait(fds, 2, std::min(next_ping_ms_, now + reply_timeout_ms));
    else poll(fds, 2, 0);
    if (sleep) s_.outbox->finish_wait(0);
    now = monotonic_ms();
    if ((fds[0].revents && !sub_.receive(now, &why)) || (fds[1].revents && !pub_.receive(now, &why)))
      return went_down(why);
    if (!take_subscription(&why) || !take_replies(&why)) went_down(why);
  }

  // True if the outbox is read to its end (the bus may sleep on it).
  bool pull_outbox() {
    if (pub_.out.size() >= max_pending_out) return false;
    int64_t now = monotonic_ms();
    auto r = s_.outbox->read(cursor_, max_pending_out - pub_.out.size(),
                             [&](uint64_t sequence, uint64_t sender, std::string_view text) {
                               pub_.send(resp_command({"PUBLISH", s_.url.channel,
                                                       bus_payload({s_.origin, sequence, sender, text})}),
                                         now);
                               stats_.in_flight.fetch_add(1, std::memory_order_relaxed);
                             });
    if (r.status == ChatRing::ReadStatus::overrun) {
      // The numbers skipped show as a gap to every receiver, ours included.
      log::warn("chat bus: fell a whole outbox behind; the messages it missed are lost");
      cursor_ = s_.outbox->join();
    }
    stats_.resume_position.store(cursor_.position + 1, std::memory_order_relaxed);
    stats_.resume_sequence.store(cursor_.sequence, std::memory_order_relaxed);
    return r.status == ChatRing::ReadStatus::overrun || !r.more;
  }

  void ping_if_quiet(int64_t now) {
    if (now < next_ping_ms_) return;
    next_ping_ms_ = now + ping_interval_ms;
    for (Link* link : {&sub_, &pub_})
      if (link->awaiting == 0) link->send(resp_command({"PING"}), now);
  }

  bool take_subscription(std::string* why) {
    while (auto value = sub_.next(why)) {
      if (auto message = resp_message(*value)) deliver(message->payload);
      else if (resp_is_pong(*value)) sub_.awaiting -= sub_.awaiting > 0;
      else if (auto err = resp_error(*value)) return failed(why, "redis: " + std::string(*err));
    }
    return why->empty();
  }

  bool take_replies(std::string* why) {
    while (auto value = pub_.next(why)) {
      pub_.awaiting -= pub_.awaiting > 0;
      if (value->type == RespValue::Type::integer) {
        stats_.published.fetch_add(1, std::memory_order_relaxed);
        if (stats_.in_flight.load(std::memory_order_relaxed) > 0) stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
      } else if (auto err = resp_error(*value)) {
        // A refused PUBLISH is a message that will not come back: receivers
        // see the gap. Logged at most once a minute.
        if (stats_.in_flight.load(std::memory_order_relaxed) > 0) stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
        note_refusal(*err);
      }
    }
    return why->empty();
  }

  void note_refusal(std::string_view err) {
    int64_t now = monotonic_ms();
    if (now - last_refusal_log_ms_ < 60000) return;
    last_refusal_log_ms_ = now;
    log::warn("chat bus: redis refused a PUBLISH: %.*s", static_cast<int>(err.size()), err.data());
  }

  void deliver(std::string_view payload) {
    auto e = parse_bus_payload(payload);
    if (!e) {
      stats_.foreign.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto verdict = gaps_.accept(e->origin, e->sequence);
    if (!verdict.deliver) return;
    uint64_t lost = verdict.lost;
    bool fits = e->text.size() <= std::min(s_.max_message, s_.ring->max_message());
    if (!fits) ++lost;  // another instance allows longer messages than we can carry
    if (lost > 0) report_gap(lost, e->origin);
    if (!fits) return;
    // Our own message keeps its sender, who so gets no copy; anyone else's is
    // from nobody here.
    s_.ring->publish(e->text, e->origin == s_.origin ? e->sender : ChatRing::nobody);
    stats_.received.fetch_add(1, std::memory_order_relaxed);
  }

  void report_gap(uint64_t lost, uint64_t origin) {
    stats_.lost.fetch_add(lost, std::memory_order_relaxed);
    log::warn("chat bus: %llu messages from instance %s lost in flight", static_cast<unsigned long long>(lost),
              hex(origin).c_str());
    s_.ring->publish(std::to_string(lost), ChatRing::gap_sender);
  }

  const BusSetup& s_;
  BusStats& stats_;
  RespLimits limits_;
  Link sub_, pub_;
  ChatCursor cursor_;
  GapTracker gaps_;
  sigset_t wait_mask_{};
  bool stopping_ = false;
  bool up_ = false;
  int64_t retry_at_ms_ = 0;
  int64_t backoff_ms_ = min_backoff_ms;
  int64_t next_ping_ms_ = 0;
  int64_t outage_started_ms_ = -1;  // -1: not in an outage
  int64_t last_refusal_log_ms_ = INT64_MIN / 2;
};

}  // namespace

void run_bus(const BusSetup& setup) {
  // As in a worker: an exception is a broken contract, logged; the master
  // respawns the bus with back-off.
  try {
    Bus bus(setup);
    bus.run();
  } catch (const std::exception& e) {
    log::error("chat bus failed: %s", e.what());
  }
  _exit(exit_code::failure);
}

}  // namespace ws
