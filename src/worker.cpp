#include "wsserver/worker.hpp"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "wsserver/access_log.hpp"
#include "wsserver/connection.hpp"
#include "wsserver/datagram.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/handoff.hpp"
#include "wsserver/log.hpp"
#include "wsserver/page_buffer.hpp"
#include "wsserver/signals.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSSERVER_LSAN 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define WSSERVER_LSAN 1
#endif
#ifdef WSSERVER_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace ws {
namespace {

constexpr size_t read_buffer_size = 64 * 1024;
// After a connection that moved more than this, the worker hands its
// buffers' pages back, so an idle worker stays near its fresh size.
constexpr uint64_t large_transfer = 16 * 1024;
constexpr int resource_pause_ms = 200;
// How long a worker with several stream listeners sleeps before it looks at
// them again although nothing woke it (see wait_for_connection).
constexpr int relook_ms = 500;
constexpr int64_t resource_log_interval_ms = 5000;

// Delivered only while the worker waits (for a connection, or in chat for
// its client and the ring).
const sigset_t worker_signals = signals::make_set({worker_signal::drain, worker_signal::retire, worker_signal::stop_now,
                                                   worker_signal::reopen_logs, ChatRing::wake_signal});
// Also delivered while it talks to a client: a fast stop and a log reopen
// must not wait for the client to finish.
const sigset_t client_signals = signals::make_set({worker_signal::stop_now, worker_signal::reopen_logs});

bool stop_now() { return signals::peek(worker_signal::stop_now); }

// A worker ends with _exit(), which skips LeakSanitizer's check at exit. In a
// sanitized build it checks here instead: a leak per client is the one a
// worker that serves for days would suffer from.
void check_leaks() {
#ifdef WSSERVER_LSAN
  __lsan_do_leak_check();
#endif
}

class Worker {
 public:
  explicit Worker(const WorkerSetup& setup)
      : setup_(setup), config_(*setup.config), slot_(setup.board->slot(setup.slot)) {}

  [[noreturn]] void run() {
    set_up();
    for (;;) {
      take_signals();
      if (retiring_ || stop_now()) leave(exit_code::ok);
      if (take_client()) {
        if (config_.max_requests > 0 && served_ >= config_.max_requests) leave(exit_code::ok);
        continue;
      }
      if (answer_datagrams()) continue;
      if (draining_) leave(exit_code::ok);  // the backlog is empty
      wait_for_connection();
    }
  }

 private:
  void set_up() {
    signals::clear_all();
    // The terminal's signals reach the whole process group; only the master acts on them.
    signals::ignore({SIGINT, SIGHUP, SIGTTIN, SIGTTOU, SIGWINCH});
    signals::restore_default({SIGCHLD});
    signals::catch_signals({worker_signal::drain, worker_signal::retire, worker_signal::stop_now, worker_signal::reopen_logs,
                            ChatRing::wake_signal});
    sigprocmask(SIG_SETMASK, &worker_signals, nullptr);
    sigemptyset(&wait_mask_);
    for (int fd : setup_.master_only_fds) close(fd);
    std::string error;
    if (!drop_privileges(*setup_.identity, &error)) fail_setup(error);
    // If the master dies, even by SIGKILL, retire: finish the client and go.
    // Only after the drop: changing the uid or gid clears the death signal.
    // A master that died before this is seen by the getppid() check.
    prctl(PR_SET_PDEATHSIG, worker_signal::retire);
    if (getppid() != setup_.master_pid) retiring_ = true;

    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) fail_setup(log::syscall_error("epoll_create1"));
    for (const auto& listener : *setup_.listeners)
      for (const auto& socket : listener.sockets)
        if (socket.type != SocketType::udp) watch(socket.fd.get(), &stream_fds_);
    for (const auto& listener : *setup_.listeners)
      for (const auto& socket : listener.sockets)
        if (socket.type == SocketType::udp) {
          watch(socket.fd.get(), &datagram_fds_);
          datagram_guard_.watch(socket.fd.get());
        }
    if (setup_.handoff_fd >= 0) watch(setup_.handoff_fd, nullptr);
    if (setup_.chat) setup_.chat->attach(setup_.slot, static_cast<int>(getpid()));
    service_ = make_service(config_.service, {setup_.chat, setup_.slot, setup_.chat_outbox, &slot_});
    if (!buffer_.ok()) fail_setup(log::syscall_error("mmap"));
    size_t max_message = static_cast<size_t>(config_.max_message);
    if (setup_.chat) max_message = std::min(max_message, setup_.chat->max_message());
    if (setup_.chat_outbox) max_message = std::min(max_message, setup_.chat_outbox->max_message());
    context_ = {&config_,       service_.get(), &slot_,        setup_.board,          setup_.access,
                setup_.secret, max_message,    buffer_.data(), buffer_.size(),        setup_.auth_limit};
    context_.ws_page = setup_.ws_page;
    slot_.set_state(WorkerState::idle, wall_clock_ms());
  }

  void watch(int fd, std::vector<int>* list) {
    // EPOLLEXCLUSIVE wakes one idle worker per connection, not all of them.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fail_setup(log::syscall_error("epoll_ctl"));
    if (list) list->push_back(fd);
  }

  [[noreturn]] void fail_setup(const std::string& why) {
    log::error("worker set-up failed: %s", why.c_str());
    check_leaks();
    _exit(exit_code::worker_setup_failed);
  }

  [[noreturn]] void leave(int status) {
    slot_.set_state(WorkerState::exiting, wall_clock_ms());
    check_leaks();
    // _exit: the master's atexit work (pid file removal) is not ours to do.
    _exit(status);
  }

  void take_signals() {
    let_pending_signals_in();
    signals::take(ChatRing::wake_signal);  // only meant "look again"
    if (signals::take(worker_signal::reopen_logs)) log::reopen();
    if (signals::take(worker_signal::drain)) draining_ = true;
    if (signals::take(worker_signal::retire)) retiring_ = true;
  }

  // Signals that came while a client was served are still blocked (they
  // are open only in the waits): a worker told to retire while busy must
  // know before it takes another client, or an old generation keeps its
  // room under max_workers for as long as clients keep coming.
  void let_pending_signals_in() {
    sigset_t pending, old;
    if (sigpending(&pending) != 0 || sigisemptyset(&pending)) return;
    sigprocmask(SIG_SETMASK, &wait_mask_, &old);
    sigprocmask(SIG_SETMASK, &old, nullptr);
  }

  void wait_for_connection() {
    epoll_event events[8];
    // EPOLLEXCLUSIVE wakes one worker per connection, and with several
    // sources of clients (stream listeners, the hand-off socket) that wake-up
    // can be lost: a worker woken for one may take a client that came on
    // another, while the idle workers that had looked just before the first
    // came are never told of it. So with more than one source they look again
    // now and then: a client waits at most that long, not until the next comes.
    size_t sources = stream_fds_.size() + (setup_.handoff_fd >= 0 ? 1 : 0);
    int timeout = sources > 1 ? relook_ms : -1;
    // Signals are delivered only here, atomically with the wait: a stop that
    // arrives just before the call still wakes it.
    if (epoll_pwait(epoll_.get(), events, 8, timeout, &wait_mask_) < 0 && errno != EINTR)
      log::error("%s", log::syscall_error("epoll_pwait").c_str());
  }

  // Takes one waiting client (a listener's, or one the master handed over)
  // and serves it; false if none was waiting.
  bool take_client() {
    if (setup_.handoff_fd >= 0) {
      unsigned char tag = 0;
      int fd = receive_client(setup_.handoff_fd, &tag);
      if (fd >= 0) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len);  // on failure: an unknown peer
        admit(fd, peer, ListenerTransport::from_tag(tag));
        return true;
      }
    }
    int stopped = -1;
    for (size_t i = 0; i < stream_fds_.size(); ++i) {
      int listen_fd = stream_fds_[(next_listener_ + i) % stream_fds_.size()];
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd >= 0) {
        next_listener_ = (next_listener_ + i + 1) % stream_fds_.size();
        admit(fd, peer, transport_of(listen_fd));
        return true;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pause_for_resources();
        return false;
      }
      if (errno == EINVAL) stopped = listen_fd;
      // EAGAIN: nobody waiting here. ECONNABORTED and the like: that client
      // is gone before we took it; nothing to do for it.
    }
    if (stopped >= 0) forget_listener(stopped);
    return false;
  }

  ListenerTransport transport_of(int listen_fd) const {
    for (const auto& listener : *setup_.listeners)
      for (const auto& socket : listener.sockets)
        if (socket.fd.get() == listen_fd) return listener.address.transport;
    return {};
  }

  // The master stopped this socket listening (a graceful stop once its
  // backlog was drained, or a reload that removed it). It would only wake
  // the wait again and again (a closed socket polls as hung up), and its
  // copy would keep the address bound: closed, one per call.
  void forget_listener(int fd) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    stream_fds_.erase(std::find(stream_fds_.begin(), stream_fds_.end(), fd));
    close(fd);
  }

  void pause_for_resources() {
    int64_t now = monotonic_ms();
    if (now - last_resource_log_ms_ >= resource_log_interval_ms) {
      log::warn("cannot accept: %s; pausing accepts", std::strerror(errno));
      last_resource_log_ms_ = now;
    }
    timespec pause{0, resource_pause_ms * 1000000L};
    // Sleeps with the stop signals deliverable; EINTR just ends the pause early.
    ppoll(nullptr, 0, &pause, &wait_mask_);
  }

  // Answers the datagrams waiting on the udp: listeners (a bounded batch,
  // so stream clients are not kept waiting); true if there were any.
  bool answer_datagrams() {
    bool any = false;
    for (int fd : datagram_fds_) {
      DatagramTotals totals = serve_datagrams(fd, *service_, *setup_.access, datagram_guard_, buffer_.data(),
                                               buffer_.size(), datagram_out_);
      if (totals.datagrams == 0) continue;
      any = true;
      slot_.add_traffic(totals.in, totals.out);
      slot_.add_messages(totals.datagrams);
    }
    return any;
  }

  // Serves one client through the client path (connection.hpp), then
  // writes its access-log line.
  void admit(int fd, const sockaddr_storage& peer, ListenerTransport transport) {
    slot_.set_state(WorkerState::busy, wall_clock_ms());
    slot_.count_client();
    int64_t started = monotonic_ms();
    configure_client_socket(fd, peer);
    context_.client_id = static_cast<uint64_t>(getpid()) << 32 | static_cast<uint32_t>(served_);
    signals::unblock(client_signals);
    ConnectionOutcome outcome = serve_connection(fd, peer, transport, context_);
    signals::block(client_signals);
    if (is_refusal(outcome.reason)) slot_.count_rejected();
    slot_.count_close(outcome.reason);
    ++served_;
    // A reopen asked for while this client was served applies to its line.
    if (signals::take(worker_signal::reopen_logs)) log::reopen();
    const ConnectionTotals& totals = outcome.totals;
    if (log::access_enabled())
      log_access_record({wall_clock_ms(), outcome.client.text(), static_cast<int>(getpid()), monotonic_ms() - started,
                         totals.messages, totals.in, totals.out, close_reason_name(outcome.reason)},
                        config_.access_log_format);
    if (totals.in + totals.out > large_transfer) shed_memory();
    slot_.set_state(WorkerState::idle, wall_clock_ms());
  }

  void shed_memory() {
    buffer_.release_pages();
    datagram_out_ = Replies(datagram_framing_);
    // glibc hands whole free pages back to the kernel, wherever they are.
    malloc_trim(0);
  }

  void configure_client_socket(int fd, const sockaddr_storage& peer) {
    // A TCP client inherited TCP_NODELAY and its timeouts from the listener
    // (set_inherited_options); a unix one did not. Failures leave defaults
    // that still work (no timeout).
    if (peer.ss_family == AF_UNIX && config_.idle_timeout > 0) {
      timeval tv{config_.idle_timeout, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (service_->pushes()) {
      // The kernel's send buffer also holds output for a client that does
      // not read; left to autotuning it could hide megabytes from
      // chat_backlog. Bounded, what waits for one client stays near it.
      int size = static_cast<int>(std::clamp<long long>(config_.chat_backlog, 4096, 256 * 1024));
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
  }

  const WorkerSetup& setup_;
  const Config& config_;
  WorkerSlot& slot_;
  Fd epoll_;
  std::vector<int> stream_fds_;
  std::vector<int> datagram_fds_;
  DatagramGuard datagram_guard_;
  size_t next_listener_ = 0;
  sigset_t wait_mask_{};
  bool draining_ = false;
  bool retiring_ = false;
  std::unique_ptr<Service> service_;
  PageBuffer buffer_{read_buffer_size};
  TerminatedReplies datagram_framing_{config_.reply_terminator};
  Replies datagram_out_{datagram_framing_};
  ConnectionContext context_{};
  long long served_ = 0;
  int64_t last_resource_log_ms_ = -resource_log_interval_ms;
};

}  // namespace

void run_worker(const WorkerSetup& setup) {
  // The worker's edge. What can fail in normal operation comes back as a
  // status and a message; an exception here is a broken contract (the chat
  // ring's lock lost, say). Logged, and the worker exits with a failure the
  // master reports and replaces, instead of std::terminate's abort.
  try {
    Worker worker(setup);
    worker.run();
  } catch (const std::exception& e) {
    log::error("worker failed: %s", e.what());
  }
  check_leaks();
  _exit(exit_code::failure);
}

}  // namespace ws
