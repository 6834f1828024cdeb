#include "client_thread.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "clock.hpp"
#include "ws_wire.hpp"

namespace wsbench {
namespace {

constexpr size_t buffer_size = 256 * 1024;
constexpr int max_iov = 16;       // 1 MiB of bulk pattern per sendmsg
constexpr int max_events = 64;
constexpr int tick_ms = 100;      // how often a waiting thread looks at the clock
constexpr int problems_shown = 10;

std::atomic<bool> stop_flag{false};
std::atomic<int> problems_printed{0};

void print_problem(const std::string& text) {
  int n = problems_printed.fetch_add(1, std::memory_order_relaxed);
  if (n < problems_shown) std::fprintf(stderr, "wsbench: %s\n", text.c_str());
  else if (n == problems_shown) std::fprintf(stderr, "wsbench: more errors, not shown\n");
}

std::string syscall_problem(const char* call) { return std::string(call) + "() failed: " + std::strerror(errno); }

bool is_close(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }

}  // namespace

void request_stop() { stop_flag.store(true, std::memory_order_relaxed); }
bool stop_requested() { return stop_flag.load(std::memory_order_relaxed); }

ClientThread::ClientThread(Shared& shared, std::vector<size_t> connection_ids)
    : shared_(shared), options_(*shared.options) {
  for (size_t id : connection_ids) {
    auto c = std::make_unique<Conn>();
    c->id = id;
    // Connections start at different messages, so the pool is mixed at once.
    c->next_message = id * 7;
    conns_.push_back(std::move(c));
  }
}

bool ClientThread::run(std::string* error) {
  epoll_ = ws::Fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) {
    *error = syscall_problem("epoll_create1");
    return false;
  }
  buffer_ = std::make_unique<char[]>(buffer_size);
  active_ = conns_.size();
  for (auto& c : conns_) runnable_.push_back(c.get());
  epoll_event events[max_events];
  while (active_ > 0 || holding()) {
    // Handled one by one: a failure may make a connection runnable again.
    while (!runnable_.empty()) {
      Conn* c = runnable_.back();
      runnable_.pop_back();
      next(*c);
    }
    publish();
    if (active_ == 0 && !holding()) break;
    // Never before the deadline: a thread that gave up early would close
    // connections and free workers for another thread's waiting ones.
    int64_t left_ns = shared_.deadline_ns - now_ns();
    if (left_ns <= 0) {
      abandon_all();
      break;
    }
    int64_t wait_ms = std::min<int64_t>((left_ns + 999999) / 1000000, tick_ms);
    int n = epoll_wait(epoll_.get(), events, max_events, static_cast<int>(wait_ms));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = syscall_problem("epoll_wait");
      tally_.count(Failure::io);
      abandon_all();
      break;
    }
    // Nor after it: what arrives then may be owed to another thread's giving up.
    if (now_ns() >= shared_.deadline_ns) {
      abandon_all();
      break;
    }
    for (int i = 0; i < n; ++i) on_event(*static_cast<Conn*>(events[i].data.ptr), events[i].events);
  }
  for (auto& c : conns_) c->fd.reset();
  publish();
  return true;
}

bool ClientThread::holding() const {
  return options_.mode == Mode::hold && !stop_flag.load(std::memory_order_relaxed) &&
         shared_.settled.load(std::memory_order_relaxed) < shared_.connections;
}

void ClientThread::publish() {
  live_completed.store(tally_.completed, std::memory_order_relaxed);
  live_errors.store(tally_.errors(), std::memory_order_relaxed);
}

bool ClientThread::take_ticket() {
  if (stop_flag.load(std::memory_order_relaxed)) return false;
  // The deadline too: connections that fail at once never reach the wait
  // in run() that checks it.
  int64_t now = now_ns();
  if (now >= shared_.deadline_ns || (shared_.stop_new_ns > 0 && now >= shared_.stop_new_ns)) return false;
  return shared_.tickets.fetch_sub(1, std::memory_order_relaxed) > 0;
}

// Starts the connection's next message, opening it first if needed.
void ClientThread::next(Conn& c) {
  if (c.finished) return;
  if (!take_ticket()) return finish(c);
  if (c.fd) return send_message(c);
  // A connection that fails to open is counted; connrate moves on to the
  // next ticket on the next turn, the persistent modes give up.
  if (!open(c) && options_.mode != Mode::connrate) finish(c);
}

bool ClientThread::open(Conn& c) {
  c.started_ns = now_ns();
  c.fd = ws::Fd(target_socket(*shared_.target, false));
  if (!c.fd) {
    fail(c, Failure::connect, syscall_problem("socket"));
    return false;
  }
  c.events = 0;
  if (connect(c.fd.get(), reinterpret_cast<const sockaddr*>(&shared_.target->address), shared_.target->length) != 0) {
    if (errno != EINPROGRESS) {
      // A unix socket says EAGAIN when its backlog is full: a failure here too.
      fail(c, Failure::connect, "connect to " + shared_.target->name + ": " + std::strerror(errno));
      return false;
    }
    // Over loopback the handshake is usually done by now: sending at once
    // saves a wait and a getsockopt per connection; EAGAIN means not yet.
    c.connecting = true;
  }
  if (options_.websocket && !upgrade(c)) return false;
  send_message(c);
  return true;
}

// The handshake waits in this thread, its other connections idle: it is
// measured only by connrate, where it belongs to the cost of a connection.
bool ClientThread::upgrade(Conn& c) {
  std::string error;
  uint64_t seed = options_.seed ^ (c.id << 20) ^ c.messages_done;
  const std::string& host = shared_.target->tcp ? shared_.target->name : "localhost";
  if (!websocket_upgrade(c.fd.get(), host, seed, shared_.deadline_ns, &error)) {
    fail(c, Failure::connect, error);
    return false;
  }
  c.connecting = false;
  return true;
}

void ClientThread::on_connect_error(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  fail(c, Failure::connect, "connect to " + shared_.target->name + ": " + std::strerror(err ? err : ECONNREFUSED));
}

void ClientThread::send_message(Conn& c) {
  const auto& messages = *shared_.messages;
  c.exchange.start(messages[c.next_message++ % messages.size()]);
  // connrate and hold count from connect(), the others from the first byte sent.
  if (options_.mode != Mode::connrate && options_.mode != Mode::hold) c.started_ns = now_ns();
  c.in_flight = true;
  pump_send(c);
}

void ClientThread::pump_send(Conn& c) {
  while (!c.exchange.send_done()) {
    iovec iov[max_iov];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(c.exchange.next_send(iov, max_iov));
    size_t offered = 0;
    for (size_t i = 0; i < msg.msg_iovlen; ++i) offered += iov[i].iov_len;
    ssize_t n = sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (c.connecting)
        return fail(c, Failure::connect, "connect to " + shared_.target->name + ": " + std::strerror(errno));
      if (is_close(errno)) return fail(c, Failure::early_close, std::string("server closed: ") + std::strerror(errno));
      return fail(c, Failure::io, syscall_problem("sendmsg"));
    }
    c.connecting = false;
    c.exchange.sent(static_cast<uint64_t>(n));
    tally_.bytes_sent += static_cast<uint64_t>(n);
    // A short write means the socket buffer is full: wait rather than spin.
    if (static_cast<size_t>(n) < offered) break;
  }
  if (c.connecting) watch(c, EPOLLOUT);
  else watch(c, c.exchange.send_done() ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

void ClientThread::on_readable(Conn& c) {
  ssize_t n = recv(c.fd.get(), buffer_.get(), buffer_size, MSG_DONTWAIT);
  if (n > 0) {
    tally_.bytes_received += static_cast<uint64_t>(n);
    if (!c.in_flight) return fail(c, Failure::mismatch, "bytes arrived while no message was out");
    switch (c.exchange.receive(buffer_.get(), static_cast<size_t>(n))) {
      case Progress::more: return;
      case Progress::mismatch: return fail(c, Failure::mismatch, c.exchange.problem());
      case Progress::complete:
        if (!c.exchange.send_done()) return fail(c, Failure::mismatch, "the reply ended before the message was sent");
        return complete(c);
    }
  }
  if (n == 0) {
    return fail(c, Failure::early_close,
                "server closed after " + std::to_string(c.exchange.received()) + " reply bytes");
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
  if (is_close(errno)) return fail(c, Failure::early_close, std::string("server reset: ") + std::strerror(errno));
  fail(c, Failure::io, syscall_problem("recv"));
}

void ClientThread::on_event(Conn& c, uint32_t events) {
  if (c.held && c.fd) return on_held_event(c);
  if (c.finished || !c.fd) return;
  if (c.connecting) {
    if (events & (EPOLLERR | EPOLLHUP)) return on_connect_error(c);
    return pump_send(c);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
  if ((events & EPOLLOUT) && c.fd && c.in_flight && !c.exchange.send_done()) pump_send(c);
}

void ClientThread::complete(Conn& c) {
  int64_t now = now_ns();
  tally_.latency.record(static_cast<uint64_t>(now - c.started_ns));
  ++tally_.completed;
  tally_.last_reply_ns = now;
  c.in_flight = false;
  ++c.messages_done;
  if (options_.mode == Mode::hold) return hold(c);
  if (options_.mode == Mode::connrate) c.fd.reset();
  runnable_.push_back(&c);
}

void ClientThread::hold(Conn& c) {
  c.held = true;
  shared_.settled.fetch_add(1, std::memory_order_relaxed);
  finish(c);
}

// The server has nothing more to say on a held connection: any byte or a
// close before the run lets go means it did not keep the client.
void ClientThread::on_held_event(Conn& c) {
  ssize_t n = recv(c.fd.get(), buffer_.get(), buffer_size, MSG_DONTWAIT);
  if (n > 0) return fail(c, Failure::mismatch, "bytes arrived on a held connection after its reply");
  if (n == 0) return fail(c, Failure::early_close, "server closed a held connection before all were answered");
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
  if (is_close(errno))
    return fail(c, Failure::early_close, std::string("server reset a held connection: ") + std::strerror(errno));
  fail(c, Failure::io, syscall_problem("recv"));
}

void ClientThread::fail(Conn& c, Failure failure, const std::string& what) {
  tally_.count(failure);
  std::string text = "connection " + std::to_string(c.id) + ", message " + std::to_string(c.messages_done) + ": " + what;
  if (tally_.first_problem.empty()) tally_.first_problem = text;
  print_problem(text);
  if (options_.mode == Mode::hold && !c.held) shared_.settled.fetch_add(1, std::memory_order_relaxed);
  c.held = false;
  c.in_flight = false;
  c.connecting = false;
  c.fd.reset();
  if (options_.mode == Mode::connrate) runnable_.push_back(&c);
  else finish(c);
}

void ClientThread::finish(Conn& c) {
  if (c.finished) return;
  if (!c.held) c.fd.reset();
  c.finished = true;
  --active_;
}

void ClientThread::watch(Conn& c, uint32_t events) {
  if (!c.fd || c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &c;
  int op = c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_.get(), op, c.fd.get(), &ev) != 0) return fail(c, Failure::io, syscall_problem("epoll_ctl"));
  c.events = events;
}

void ClientThread::abandon_all() {
  for (auto& c : conns_) {
    if (c->finished) continue;
    if (c->in_flight || c->connecting) ++tally_.unanswered;
    finish(*c);
  }
}

}  // namespace wsbench
