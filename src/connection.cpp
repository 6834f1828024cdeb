#include "wsserver/connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>

#include "wsserver/chat_ring.hpp"
#include "wsserver/log.hpp"
#include "wsserver/proxy_header.hpp"
#include "wsserver/session.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/transport.hpp"
#include "wsserver/ws_handshake.hpp"
#include "wsserver/ws_transport.hpp"

namespace ws {
namespace {

constexpr int linger_ms = 1000;
constexpr int auth_failure_delay_ms = 1000;
constexpr int max_auth_failures = 3;
// How long a chat client's full queue may find its socket without room
// before the client is cut, and how long it then has to make room for the
// notice saying why.
constexpr int64_t too_slow_grace_ms = 1000;
constexpr int too_slow_notice_wait_ms = 1000;

bool stop_now() { return signals::peek(worker_signal::stop_now); }

std::string address_text(const IpAddress& ip) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(ip.family, ip.bytes.data(), text, sizeof text);
  return text;
}

// A limit the client is held to besides plain silence, and what passing it means.
struct Deadline {
  int64_t at = INT64_MAX;
  CloseReason reason = CloseReason::idle_timeout;
};

class Connection {
 public:
  Connection(int fd, const IpAddress& peer, std::unique_ptr<Transport> transport, const ConnectionContext& c,
             ConnectionTotals* totals)
      : fd_(fd),
        peer_(peer),
        c_(c),
        totals_(totals),
        transport_(std::move(transport)),
        session_(*c.service, {c.max_message, c.secret}),
        out_(*transport_),
        pending_(*transport_) {}

  // Two loops, one per way of waiting, both feeding the one transport and
  // session through handle() and deliver(): a service that only answers
  // (strip, echo) blocks in recv(), one system call per message; a service
  // that pushes (chat) waits in ppoll on the client and its ring at once.
  // `early`: bytes the client sent before the loops began (frames behind a
  // WebSocket handshake).
  CloseReason run(std::string_view early) {
    early_ = early;
    CloseReason reason = pushing_ ? converse_pushing() : converse();
    end(reason);
    count_notices();
    return reason;
  }

 private:
  CloseReason converse() {
    if (auto reason = handle_early()) return *reason;
    for (;;) {
      if (auto reason = await_input()) return *reason;
      ssize_t n = recv(fd_, c_.buffer, c_.buffer_size, 0);
      if (n > 0) {
        totals_->in += static_cast<uint64_t>(n);
        c_.slot->add_traffic(static_cast<uint64_t>(n), 0);
        if (auto reason = handle({c_.buffer, static_cast<size_t>(n)})) return *reason;
        note_message_start(static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        out_.clear();
        Session::Step step = transport_->finish(session_, out_);
        if (step == Session::Step::auth_failed) fail_auth();
        if (int err = flush()) return send_failure(err);
        return CloseReason::client_closed;
      }
      if (errno == EINTR) {
        if (auto reason = interrupted()) return *reason;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return CloseReason::idle_timeout;
      return CloseReason::reset;
    }
  }

  // The notices the session sent; those a close sends, the worker counts
  // with the close (WorkerSlot::count_close).
  void count_notices() {
    c_.slot->count_notice(Notice::message_too_long, session_.too_long_notices());
    c_.slot->count_notice(Notice::auth_required, session_.auth_required_notices());
    c_.slot->count_notice(Notice::auth_failed, static_cast<uint64_t>(session_.auth_failures()));
  }

  std::optional<CloseReason> interrupted() {
    if (signals::take(worker_signal::reopen_logs)) log::reopen();
    if (stop_now()) return CloseReason::shutdown;
    return std::nullopt;
  }

  // While a deadline of its own holds the client (auth_timeout, a message
  // in progress), waits in poll() for its next bytes, at most idle_timeout
  // as recv() would; otherwise recv() waits alone, so that a message costs
  // no extra system call.
  std::optional<CloseReason> await_input() {
    if (deadline().at == INT64_MAX) return std::nullopt;
    int64_t silence_limit = idle_ms_ > 0 ? monotonic_ms() + idle_ms_ : INT64_MAX;
    for (;;) {
      Deadline d = deadline();
      if (silence_limit < d.at) d = {silence_limit, CloseReason::idle_timeout};
      int64_t left = d.at - monotonic_ms();
      if (left <= 0) return d.reason;
      pollfd p{fd_, POLLIN, 0};
      int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
      if (n > 0 || (n < 0 && errno != EINTR)) return std::nullopt;  // recv() tells what it was
      if (n < 0)
        if (auto reason = interrupted()) return reason;
    }
  }

  Deadline deadline() const {
    Deadline d;
    if (!session_.authenticated() && c_.config->auth_timeout > 0)
      d = {connected_ms_ + int64_t{c_.config->auth_timeout} * 1000, CloseReason::auth_timeout};
    if (message_started_ms_ >= 0) {
      int64_t at = message_deadline(message_started_ms_, session_.message_bytes(), idle_ms_, c_.config->min_rate);
      if (at < d.at) d = {at, CloseReason::slow_message};
    }
    return d;
  }

  // Keeps when the message in progress began: now, if the last read of
  // `read` bytes holds all of it.
  void note_message_start(size_t read) {
    if (!session_.in_message()) message_started_ms_ = -1;
    else if (message_started_ms_ < 0 || session_.message_bytes() <= read) message_started_ms_ = monotonic_ms();
  }

  // For a service that pushes (chat): the client's messages and the pushed
  // output are both awaited in ppoll, with the socket non-blocking so that a
  // client that does not read never blocks the worker. What waits for the
  // client in this process is bounded by chat_backlog; when that is full and
  // more is waiting, the client is cut unless its socket takes something
  // within a second (a client that reads drains in milliseconds; a moment
  // without room only means ACKs are still on their way).
  CloseReason converse_pushing() {
    c_.service->join(c_.client_id);
    size_t backlog = static_cast<size_t>(c_.config->chat_backlog);
    int64_t idle_ms = idle_ms_;
    int64_t last_heard = monotonic_ms();
    int64_t full_since = -1;
    sigset_t open = signals::current_mask_without(
        signals::make_set({worker_signal::stop_now, worker_signal::reopen_logs, ChatRing::wake_signal}));
    pending_.clear();
    if (auto reason = handle_early()) return *reason;
    for (;;) {
      Gathered gathered = gather_pushed(backlog);
      if (gathered == Gathered::overrun) return CloseReason::too_slow;
      if (!send_pending()) return CloseReason::reset;
      int64_t now = monotonic_ms();
      if (gathered != Gathered::full) full_since = -1;
      else if (full_since < 0) full_since = now;
      else if (now - full_since >= too_slow_grace_ms) return CloseReason::too_slow;
      // With the queue full the wait is for the socket, not the ring.
      bool sleep = gathered == Gathered::full || c_.service->prepare_wait();
      if (sleep) {
        int64_t wake = std::min(idle_ms > 0 ? last_heard + idle_ms : INT64_MAX, deadline().at);
        if (gathered == Gathered::full) wake = std::min(wake, full_since + too_slow_grace_ms);
        pollfd p{fd_, static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
        timespec timeout{}, *limit = nullptr;
        if (wake != INT64_MAX) {
          int64_t left = std::max<int64_t>(0, wake - now);
          timeout = {static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000L};
          limit = &timeout;
        }
        ppoll(&p, 1, limit, &open);  // EINTR: a wake-up or a signal, handled below
        if (gathered != Gathered::full) c_.service->finish_wait();
      }
      signals::take(ChatRing::wake_signal);
      if (signals::take(worker_signal::reopen_logs)) log::reopen();
      if (stop_now()) return CloseReason::shutdown;
      ssize_t n = recv(fd_, c_.buffer, c_.buffer_size, MSG_DONTWAIT);
      if (n > 0) {
        last_heard = monotonic_ms();
        totals_->in += static_cast<uint64_t>(n);
        c_.slot->add_traffic(static_cast<uint64_t>(n), 0);
        if (auto reason = handle({c_.buffer, static_cast<size_t>(n)})) return *reason;
        note_message_start(static_cast<size_t>(n));
      } else if (n == 0) {
        transport_->finish(session_, pending_);
        send_pending();
        return CloseReason::client_closed;
      } else if (errno != EAGAIN && errno != EINTR) {
        return CloseReason::reset;
      }
      if (idle_ms > 0 && monotonic_ms() - last_heard >= idle_ms) return CloseReason::idle_timeout;
      if (Deadline d = deadline(); monotonic_ms() >= d.at) return d.reason;
    }
  }

  enum class Gathered {
    caught_up,  // everything pushed so far is in pending_ or sent
    full,       // pending_ holds chat_backlog and more waits in the ring
    overrun,    // the ring lapped this client: what it missed is gone
  };

  // Moves pushed output into pending_ and on to the socket, as far as both go.
  Gathered gather_pushed(size_t backlog) {
    for (;;) {
      size_t room = pending_.size() < backlog ? backlog - pending_.size() : 0;
      Service::Collected got = c_.service->collect(pending_, room);
      if (got == Service::Collected::overrun) return Gathered::overrun;
      if (got == Service::Collected::all) return Gathered::caught_up;
      size_t queued = pending_.size();
      if (!send_pending()) return Gathered::caught_up;  // the caller's next send sees the failure
      if (pending_.size() == queued) return Gathered::full;
    }
  }

  // Sends what the socket takes now; false if the connection failed.
  bool send_pending() {
    while (!pending_.empty()) {
      ssize_t n = send(fd_, pending_.wire().data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        totals_->out += static_cast<uint64_t>(n);
        c_.slot->add_traffic(0, static_cast<uint64_t>(n));
        pending_.consume(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }

  std::optional<CloseReason> handle_early() {
    if (early_.empty()) return std::nullopt;
    if (auto reason = handle(early_)) return reason;
    note_message_start(early_.size());
    return std::nullopt;
  }

  // Runs the transport and session over one read; a reason when the
  // connection must end.
  std::optional<CloseReason> handle(std::string_view bytes) {
    while (!bytes.empty()) {
      out_.clear();
      Session::Result r = transport_->receive(bytes, session_, replies());
      bytes.remove_prefix(r.consumed);
      if (r.step == Session::Step::auth_failed) {
        // Replies before the failure go out first; the rest waits for the delay.
        if (auto reason = deliver()) return reason;
        out_.clear();
        fail_auth();
        if (stop_now()) return CloseReason::shutdown;
      }
      if (auto reason = deliver()) return reason;
      if (auto reason = transport_->ended()) return reason;
      if (r.step == Session::Step::leave) return CloseReason::exit_command;
      if (r.step == Session::Step::unauthenticated) return CloseReason::unauthenticated;
      if (session_.auth_failures() >= max_auth_failures || address_refused_) return CloseReason::auth_failed;
    }
    return std::nullopt;
  }

  // Where the session's replies go: out_, sent at once in a blocking
  // connection; behind the pushed output in a pushing one.
  Replies& replies() { return pushing_ ? pending_ : out_; }

  // Hands the session's replies to the client.
  std::optional<CloseReason> deliver() {
    if (!pushing_) {
      if (int err = flush()) return send_failure(err);
      return std::nullopt;
    }
    count_messages();
    if (!send_pending()) return CloseReason::reset;
    return std::nullopt;
  }

  void count_messages() {
    c_.slot->add_messages(session_.messages() - totals_->messages);
    totals_->messages = session_.messages();
  }

  // About a second of delay makes guessing slow; it sleeps with the fast
  // stop signal deliverable, so a stop does not wait for it.
  void fail_auth() {
    count_auth_failure();
    timespec delay{auth_failure_delay_ms / 1000, (auth_failure_delay_ms % 1000) * 1000000L};
    sigset_t open = signals::current_mask_without(signals::make_set({worker_signal::stop_now}));
    ppoll(nullptr, 0, &delay, &open);
    Session::notice("ERR authentication failed", replies());
  }

  // Counted for the client's address in every worker: past
  // auth_max_failures a minute, this connection ends after its reply and
  // the address is refused for a minute.
  void count_auth_failure() {
    if (!c_.auth_limit) return;
    bool started = false;
    address_refused_ =
        c_.auth_limit->record_failure(peer_, monotonic_ms(), c_.config->auth_max_failures, &started);
    if (started)
      log::warn("refusing %s for %lld s: more than %d failed AUTH attempts in a minute", address_text(peer_).c_str(),
                static_cast<long long>(AuthLimit::window_ms / 1000), c_.config->auth_max_failures);
  }

  int flush() {
    int err = send_all(fd_, out_.wire(), stop_now);
    totals_->out += out_.size();
    c_.slot->add_traffic(0, out_.size());
    count_messages();
    return err;
  }

  static CloseReason send_failure(int err) {
    if (err == EINTR) return CloseReason::shutdown;
    if (err == EAGAIN || err == EWOULDBLOCK) return CloseReason::send_timeout;
    return CloseReason::reset;
  }

  // The notice, then the transport's last words for `reason` (a WebSocket
  // close frame).
  void send_notice(std::string_view text, CloseReason reason) {
    out_.clear();
    Session::notice(text, out_);
    transport_->close(reason, out_);
    // Never blocks: a client whose buffers are full is not listening anyway.
    ssize_t ignored = send(fd_, out_.wire().data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }

  // Sends pending_ as room appears, for at most wait_ms (best effort: the
  // connection is being closed either way).
  void flush_waiting(int wait_ms) {
    int64_t deadline = monotonic_ms() + wait_ms;
    while (!pending_.empty() && send_pending()) {
      int64_t left = deadline - monotonic_ms();
      pollfd p{fd_, POLLOUT, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) break;
    }
  }

  void end(CloseReason reason) {
    switch (reason) {
      case CloseReason::shutdown:
        send_notice("ERR server shutting down", reason);
        close_lingering(fd_, 0);
        return;
      case CloseReason::idle_timeout:
        send_notice("ERR idle timeout", reason);
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::auth_timeout:
        send_notice("ERR authentication timeout", reason);
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::slow_message:
        send_notice("ERR message too slow", reason);
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::exit_command:
      case CloseReason::auth_failed:
      case CloseReason::unauthenticated:
      case CloseReason::protocol_error:
      case CloseReason::too_long:
        // out_ holds replies flush() has sent already.
        out_.clear();
        transport_->close(reason, pushing_ ? pending_ : out_);
        if (!out_.empty()) send_last_words();
        if (!pending_.empty()) send_pending();
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::too_slow:
        log::info("closed a chat client that read too slowly (chat_backlog %lld bytes)", c_.config->chat_backlog);
        // Its queue is dropped; the notice goes behind what the kernel holds
        // already, if the client makes room within a second, so a client that
        // reads again learns why it was cut.
        pending_.drop_unstarted();
        Session::notice("ERR too slow", pending_);
        transport_->close(reason, pending_);
        flush_waiting(too_slow_notice_wait_ms);
        close_lingering(fd_, linger_ms);
        return;
      default:
        // A WebSocket close frame answering the client's may still wait here.
        if (!pending_.empty()) send_pending();
        close(fd_);
    }
  }

  // What out_ holds after its replies were sent (a close frame), without blocking.
  void send_last_words() {
    ssize_t ignored = send(fd_, out_.wire().data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }

  int fd_;
  const IpAddress peer_;
  const ConnectionContext& c_;
  ConnectionTotals* totals_;
  std::unique_ptr<Transport> transport_;
  Session session_;
  Replies out_;      // the session's replies to what the client just sent
  const bool pushing_ = c_.service->pushes();
  const int64_t idle_ms_ = int64_t{c_.config->idle_timeout} * 1000;
  const int64_t connected_ms_ = monotonic_ms();
  int64_t message_started_ms_ = -1;  // the first byte of the message in progress, or -1
  bool address_refused_ = false;     // a failed AUTH took the address past auth_max_failures
  Replies pending_;  // pushed output and replies not yet taken by the socket
  std::string_view early_;
};

// Who the client is and whether it may stay: a reason to turn it away, or
// nothing. allow / deny and max_per_ip judge the client's own address.
// A refusal in the client's language: a notice line, or, for a ws: client
// whose request is not read yet, an HTTP answer.
void refuse_with(int fd, const char* notice, const ConnectionContext& c, ListenerTransport transport) {
  if (transport.websocket) refuse_connection(fd, early_refusal(429, notice), "");
  else refuse_connection(fd, notice, terminator_bytes(c.config->reply_terminator));
}

std::optional<CloseReason> admission(int fd, const ClientAddress& client, const ConnectionContext& c,
                                     ListenerTransport transport) {
  if (!c.access->admits(client.ip)) {
    log::info("refused %s: not allowed by allow/deny", client.text().c_str());
    refuse_connection(fd, "", "");
    return CloseReason::refused;
  }
  // Our own slot already counts, so more than the limit means over it.
  if (c.config->max_per_ip > 0 && client.ip.family != AF_UNSPEC &&
      c.board->clients_from(client.ip) > c.config->max_per_ip) {
    log::info("refused %s: more than max_per_ip (%d) connections", client.text().c_str(), c.config->max_per_ip);
    refuse_with(fd, "ERR too many connections from your address", c, transport);
    return CloseReason::per_ip_limit;
  }
  if (c.secret && c.auth_limit && c.auth_limit->blocked(client.ip, monotonic_ms())) {
    refuse_with(fd, "ERR too many failed authentications", c, transport);
    return CloseReason::auth_blocked;
  }
  return std::nullopt;
}

uint16_t port_of(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(peer).sin_port);
  if (peer.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(peer).sin6_port);
  return 0;
}

// SPEC 9: the whole header within 5 s of the connection.
constexpr int64_t proxy_header_ms = 5000;

bool stop_reading_header() {
  if (signals::take(worker_signal::reopen_logs)) log::reopen();
  return stop_now();
}

// The client a proxy: listener's header names (SPEC 9), made outcome->client;
// a header that is missing, late, malformed or from a peer outside
// proxy_from closes the connection unanswered. v2 LOCAL and v1 UNKNOWN
// (health checks) keep the socket's address. The header's bytes count as
// bytes in.
std::optional<CloseReason> take_proxy_header(int fd, const sockaddr_storage& peer, const ConnectionContext& c,
                                             ConnectionOutcome* outcome) {
  std::string why = "its peer is not in proxy_from";
  if (c.access->trusts_proxy(peer)) {
    ProxyRead r = read_proxy_header(fd, monotonic_ms() + proxy_header_ms, stop_reading_header);
    outcome->totals.in += r.bytes;
    c.slot->add_traffic(r.bytes, 0);
    if (r.result == ProxyRead::Result::stopped) {
      close(fd);
      return CloseReason::shutdown;
    }
    if (r.result == ProxyRead::Result::done) {
      const ProxyHeader& h = r.header;
      if (h.command == ProxyCommand::proxy) {
        outcome->client = {ip_address_of(reinterpret_cast<const sockaddr*>(&h.source)), port_of(h.source)};
        c.slot->set_client(outcome->client);
      }
      return std::nullopt;
    }
    why = r.why;
  }
  log::info("closed %s on a proxy: listener: %s", outcome->client.text().c_str(), why.c_str());
  refuse_connection(fd, "", "");
  return CloseReason::proxy_header;
}

std::unique_ptr<Transport> make_transport(ListenerTransport transport, const ConnectionContext& c) {
  if (transport.websocket) return std::make_unique<WebSocketTransport>(c.max_message);
  return std::make_unique<PlainTransport>(c.config->reply_terminator);
}

}  // namespace

ConnectionOutcome serve_connection(int fd, const sockaddr_storage& peer, ListenerTransport transport,
                                   const ConnectionContext& context) {
  ConnectionOutcome outcome;
  outcome.client = {ip_address_of(reinterpret_cast<const sockaddr*>(&peer)), port_of(peer)};
  context.slot->set_client(outcome.client);
  if (transport.proxy)
    if (auto closed = take_proxy_header(fd, peer, context, &outcome)) {
      outcome.reason = *closed;
      return outcome;
    }
  if (auto refused = admission(fd, outcome.client, context, transport)) {
    outcome.reason = *refused;
    return outcome;
  }
  std::string first_frames;  // what a WebSocket client sent behind its handshake
  if (transport.websocket) {
    if (auto answered = open_websocket(fd, context, &outcome.totals, &first_frames)) {
      outcome.reason = *answered;
      return outcome;
    }
  }
  Connection connection(fd, outcome.client.ip, make_transport(transport, context), context, &outcome.totals);
  outcome.reason = connection.run(first_frames);
  return outcome;
}

void refuse_connection(int fd, std::string_view notice, std::string_view terminator) {
  if (!notice.empty()) {
    std::string line = std::string(notice).append(terminator);
    // Best effort and never blocking: the client is being turned away.
    ssize_t ignored = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }
  close_lingering(fd, 0);
}

int64_t message_deadline(int64_t started_ms, uint64_t bytes, int64_t idle_ms, long long min_rate) {
  if (idle_ms <= 0 || min_rate <= 0) return INT64_MAX;
  // Keeps bytes * 1000 from overflowing: a message past a petabyte has
  // outlived any deadline worth keeping.
  if (bytes > uint64_t{1} << 50) return INT64_MAX;
  int64_t at_rate = static_cast<int64_t>(bytes * 1000 / static_cast<uint64_t>(min_rate));
  return started_ms + (at_rate > idle_ms ? at_rate : idle_ms);
}

int send_all(int fd, std::string_view data, bool (*interrupted)()) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR && !(interrupted && interrupted())) continue;
    return errno;
  }
  return 0;
}

void close_lingering(int fd, int linger_ms) {
  // ENOTCONN here means the client is gone already: nothing to wait for.
  if (shutdown(fd, SHUT_WR) == 0 && linger_ms > 0) {
    timespec start{}, now{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    char sink[4096];
    for (;;) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      pollfd p{fd, POLLIN, 0};
      if (spent >= linger_ms || poll(&p, 1, static_cast<int>(linger_ms - spent)) <= 0) break;
      ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  close(fd);
}

}  // namespace ws
