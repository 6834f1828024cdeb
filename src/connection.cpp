#include "wsserver/connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "wsserver/log.hpp"
#include "wsserver/session.hpp"
#include "wsserver/signals.hpp"

namespace ws {
namespace {

constexpr int linger_ms = 1000;
constexpr int auth_failure_delay_ms = 1000;
constexpr int max_auth_failures = 3;

bool stop_now() { return signals::peek(SIGTERM); }

class Conversation {
 public:
  Conversation(int fd, const ConnectionContext& c, ConnectionTotals* totals)
      : fd_(fd),
        c_(c),
        totals_(totals),
        session_(*c.service, {terminator_bytes(c.config->reply_terminator), static_cast<size_t>(c.config->max_message),
                              c.secret}) {}

  CloseReason run() {
    CloseReason reason = converse();
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

  // Runs the session over one read; a reason when the connection must end.
  std::optional<CloseReason> handle(std::string_view bytes) {
    while (!bytes.empty()) {
      c_.out->clear();
      Session::Result r = session_.receive(bytes, *c_.out);
      bytes.remove_prefix(r.consumed);
      if (r.step == Session::Step::auth_failed) {
        // Replies before the failure go out first; the rest waits for the delay.
        if (int err = flush()) return send_failure(err);
        c_.out->clear();
        fail_auth();
        if (stop_now()) return CloseReason::shutdown;
      }
      if (int err = flush()) return send_failure(err);
      if (r.step == Session::Step::leave) return CloseReason::exit_command;
      if (session_.auth_failures() >= max_auth_failures) return CloseReason::auth_failed;
    }
    return std::nullopt;
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
    c_.slot->add_messages(session_.messages() - totals_->messages);
    totals_->messages = session_.messages();
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
