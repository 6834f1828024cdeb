#include "wsserver/connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>

#include "wsserver/log.hpp"
#include "wsserver/session.hpp"
#include "wsserver/signals.hpp"

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

bool stop_now() { return signals::peek(SIGTERM); }

class Conversation {
 public:
  Conversation(int fd, const ConnectionContext& c, ConnectionTotals* totals)
      : fd_(fd),
        c_(c),
        totals_(totals),
        session_(*c.service, {terminator_bytes(c.config->reply_terminator), c.max_message, c.secret}) {}

  CloseReason run() {
    CloseReason reason = pushing_ ? converse_pushing() : converse();
    end(reason);
    return reason;
  }

 private:
  CloseReason converse() {
    for (;;) {
      ssize_t n = recv(fd_, c_.buffer, c_.buffer_size, 0);
      if (n > 0) {
        totals_->in += static_cast<uint64_t>(n);
        c_.slot->add_traffic(static_cast<uint64_t>(n), 0);
        if (auto reason = handle({c_.buffer, static_cast<size_t>(n)})) return *reason;
        continue;
      }
      if (n == 0) {
        c_.out->clear();
        Session::Step step = session_.finish(*c_.out);
        if (step == Session::Step::auth_failed) fail_auth();
        if (int err = flush()) return send_failure(err);
        return CloseReason::client_closed;
      }
      if (errno == EINTR) {
        if (signals::take(SIGUSR1)) log::reopen();
        if (stop_now()) return CloseReason::shutdown;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return CloseReason::idle_timeout;
      return CloseReason::reset;
    }
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
    int64_t idle_ms = int64_t{c_.config->idle_timeout} * 1000;
    int64_t last_heard = monotonic_ms();
    int64_t full_since = -1;
    sigset_t open = signals::current_mask_without(signals::make_set({SIGTERM, SIGUSR1, SIGURG}));
    pending_.clear();
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
        int64_t wake = idle_ms > 0 ? last_heard + idle_ms : INT64_MAX;
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
      signals::take(SIGURG);
      if (signals::take(SIGUSR1)) log::reopen();
      if (stop_now()) return CloseReason::shutdown;
      ssize_t n = recv(fd_, c_.buffer, c_.buffer_size, MSG_DONTWAIT);
      if (n > 0) {
        last_heard = monotonic_ms();
        totals_->in += static_cast<uint64_t>(n);
        c_.slot->add_traffic(static_cast<uint64_t>(n), 0);
        if (auto reason = handle({c_.buffer, static_cast<size_t>(n)})) return *reason;
      } else if (n == 0) {
        c_.out->clear();
        session_.finish(*c_.out);
        pending_.append(*c_.out);
        send_pending();
        return CloseReason::client_closed;
      } else if (errno != EAGAIN && errno != EINTR) {
        return CloseReason::reset;
      }
      if (idle_ms > 0 && monotonic_ms() - last_heard >= idle_ms) return CloseReason::idle_timeout;
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
      ssize_t n = send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        totals_->out += static_cast<uint64_t>(n);
        c_.slot->add_traffic(0, static_cast<uint64_t>(n));
        at_boundary_ = pending_[static_cast<size_t>(n) - 1] == terminator_end();
        pending_.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }

  // Runs the session over one read; a reason when the connection must end.
  std::optional<CloseReason> handle(std::string_view bytes) {
    while (!bytes.empty()) {
      c_.out->clear();
      Session::Result r = session_.receive(bytes, *c_.out);
      bytes.remove_prefix(r.consumed);
      if (r.step == Session::Step::auth_failed) {
        // Replies before the failure go out first; the rest waits for the delay.
        if (auto reason = deliver()) return reason;
        c_.out->clear();
        fail_auth();
        if (stop_now()) return CloseReason::shutdown;
      }
      if (auto reason = deliver()) return reason;
      if (r.step == Session::Step::leave) return CloseReason::exit_command;
      if (session_.auth_failures() >= max_auth_failures) return CloseReason::auth_failed;
    }
    return std::nullopt;
  }

  // Hands the session's output to the client: sent at once in a blocking
  // conversation, queued behind the pushed output in a pushing one.
  std::optional<CloseReason> deliver() {
    if (!pushing_) {
      if (int err = flush()) return send_failure(err);
      return std::nullopt;
    }
    pending_.append(*c_.out);
    c_.out->clear();
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
    timespec delay{auth_failure_delay_ms / 1000, (auth_failure_delay_ms % 1000) * 1000000L};
    sigset_t open = signals::current_mask_without(signals::make_set({SIGTERM}));
    ppoll(nullptr, 0, &delay, &open);
    session_.notice("ERR authentication failed", *c_.out);
  }

  int flush() {
    int err = send_all(fd_, *c_.out, stop_now);
    totals_->out += c_.out->size();
    c_.slot->add_traffic(0, c_.out->size());
    count_messages();
    return err;
  }

  static CloseReason send_failure(int err) {
    if (err == EINTR) return CloseReason::shutdown;
    if (err == EAGAIN || err == EWOULDBLOCK) return CloseReason::send_timeout;
    return CloseReason::reset;
  }

  void send_notice(std::string_view text) {
    c_.out->clear();
    session_.notice(text, *c_.out);
    // Never blocks: a client whose buffers are full is not listening anyway.
    ssize_t ignored = send(fd_, c_.out->data(), c_.out->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }

  // Empties pending_ but for the rest of a message whose start was sent:
  // the client must never see half a message.
  void drop_whole_messages() {
    if (!pending_.empty() && !at_boundary_) {
      size_t end = pending_.find(terminator_end());
      pending_.resize(end == std::string::npos ? pending_.size() : end + 1);
    } else {
      pending_.clear();
    }
  }

  // Messages never hold a terminator byte, so the first one in pending_
  // ends the message it belongs to.
  char terminator_end() const { return terminator_bytes(c_.config->reply_terminator).back(); }

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
        send_notice("ERR server shutting down");
        close_lingering(fd_, 0);
        return;
      case CloseReason::idle_timeout:
        send_notice("ERR idle timeout");
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::exit_command:
      case CloseReason::auth_failed:
        if (!pending_.empty()) send_pending();
        close_lingering(fd_, linger_ms);
        return;
      case CloseReason::too_slow:
        log::info("closed a chat client that read too slowly (chat_backlog %lld bytes)", c_.config->chat_backlog);
        // Its queue is dropped; the notice goes behind what the kernel holds
        // already, if the client makes room within a second, so a client that
        // reads again learns why it was cut.
        drop_whole_messages();
        session_.notice("ERR too slow", pending_);
        flush_waiting(too_slow_notice_wait_ms);
        close_lingering(fd_, linger_ms);
        return;
      default:
        close(fd_);
    }
  }

  int fd_;
  const ConnectionContext& c_;
  ConnectionTotals* totals_;
  Session session_;
  const bool pushing_ = c_.service->pushes();
  std::string pending_;  // pushed output and replies not yet taken by the socket
  bool at_boundary_ = true;  // what was sent so far ends with a whole message
};

}  // namespace

CloseReason serve_connection(int fd, const ConnectionContext& context, ConnectionTotals* totals) {
  return Conversation(fd, context, totals).run();
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

}  // namespace ws
