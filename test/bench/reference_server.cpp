// reference-server: the strip protocol served as fast as one process can on
// this machine, to measure wsserver against. One thread, one epoll instance,
// non-blocking sockets, level-triggered; replies stream out as the message
// streams in, and a connection whose client does not read stops being read
// (bounded memory). Framing and commands follow SPEC section 1; nothing else
// (no auth, no timeouts, no pool) is there.
//
//   reference-server [--host 127.0.0.1] [--port 0]
// prints "listening on HOST:PORT" on stdout once it accepts connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "wsserver/framing.hpp"
#include "wsserver/strip.hpp"

namespace {

constexpr size_t read_size = 64 * 1024;
// Past this much unsent reply a connection is not read until it drains.
constexpr size_t output_limit = 256 * 1024;
constexpr int accept_pause_ms = 100;

constexpr bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool command_prefix(std::string_view word) {
  return std::string_view("exit").substr(0, word.size()) == word || std::string_view("quit").substr(0, word.size()) == word;
}

// The byte work is wsserver's own (the vectorised strip, memchr framing),
// so that the two servers differ only in how they are built around it.
void strip_into(std::string& out, std::string_view part) { ws::strip_append(part, out); }

struct Connection {
  int fd;
  std::string out;            // reply bytes not yet sent
  size_t message_start = 0;   // where the current message's reply begins in `out`
  bool in_message = false;
  bool deciding = true;       // the message might still be exit or quit: hold its reply
  char word[4] = {};          // the command so far, lower case
  size_t word_length = 0;
  bool after_word = false;    // white space followed the word
  bool closing = false;       // exit/quit or end of input: close once `out` is sent
  uint32_t events = 0;
};

class Server {
 public:
  Server(int listen_fd, int epoll_fd) : listen_fd_(listen_fd), epoll_fd_(epoll_fd) {}

  [[noreturn]] void run() {
    epoll_event events[128];
    for (;;) {
      int n = epoll_wait(epoll_fd_, events, 128, accept_paused_ ? accept_pause_ms : -1);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      if (accept_paused_ && n == 0) resume_accepting();
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == listen_fd_) accept_all();
        else handle(events[i].data.fd, events[i].events);
      }
    }
  }

 private:
  [[noreturn]] static void die(const char* call) {
    std::fprintf(stderr, "reference-server: %s() failed: %s\n", call, std::strerror(errno));
    std::exit(71);
  }

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: stop listening for a moment instead of spinning.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_accepting();
        // EAGAIN: none left. ECONNABORTED and the like: that client is gone.
        if (errno != EINTR && errno != ECONNABORTED) return;
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a failure costs speed only
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      if (!watch(*c, EPOLLIN)) {
        close(fd);
        continue;
      }
      connections_[fd] = std::move(c);
    }
  }

  void pause_accepting() {
    std::fprintf(stderr, "reference-server: accept4() failed: %s; pausing\n", std::strerror(errno));
    epoll_event ev{};
    ev.data.fd = listen_fd_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) != 0) die("epoll_ctl");
    accept_paused_ = true;
  }

  void resume_accepting() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) != 0) die("epoll_ctl");
    accept_paused_ = false;
  }

  bool watch(Connection& c, uint32_t events) {
    if (c.events == events) return true;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c.fd;
    if (epoll_ctl(epoll_fd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev) != 0) return false;
    c.events = events;
    return true;
  }

  void handle(int fd, uint32_t events) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c.closing && !read_some(c)) return drop(c);
    if (!flush(c)) return drop(c);
    if (c.closing && sendable(c) == 0) return drop(c);
    uint32_t want = 0;
    if (!c.closing && c.out.size() < output_limit) want |= EPOLLIN;
    if (sendable(c) > 0) want |= EPOLLOUT;
    if (!watch(c, want)) drop(c);
  }

  // Reads once and appends replies; false if the connection failed.
  bool read_some(Connection& c) {
    ssize_t n = recv(c.fd, buffer_, read_size, 0);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
      // Pending unterminated bytes are a final message.
      if (c.in_message) end_message(c);
      c.closing = true;
      return true;
    }
    consume(c, std::string_view(buffer_, static_cast<size_t>(n)));
    return true;
  }

  void consume(Connection& c, std::string_view bytes) {
    size_t at = 0;
    ws::TerminatorScan scan(bytes);
    while (at < bytes.size()) {
      size_t end = scan.next(at);
      std::string_view part = bytes.substr(at, (end == std::string_view::npos ? bytes.size() : end) - at);
      if (!part.empty()) c.in_message = true;
      if (c.deciding) decide(c, part);
      strip_into(c.out, part);
      if (end == std::string_view::npos) return;
      if (!end_message(c)) return;  // exit or quit: the rest is ignored
      at = end + 1;
    }
  }

  // A command is one word with optional white space around it (as wsserver's
  // CommandMatcher); most messages are ruled out at their first byte.
  static void decide(Connection& c, std::string_view part) {
    for (char ch : part) {
      if (is_space(static_cast<unsigned char>(ch))) {
        c.after_word = c.word_length > 0;
        continue;
      }
      if (c.after_word || c.word_length == 4) return void(c.deciding = false);
      c.word[c.word_length++] = lower(ch);
      if (!command_prefix(std::string_view(c.word, c.word_length))) return void(c.deciding = false);
    }
  }

  // False when the message was exit or quit.
  bool end_message(Connection& c) {
    if (c.deciding && c.word_length == 4) {
      c.out.resize(c.message_start);
      c.closing = true;
      return false;
    }
    c.out.push_back('\0');
    c.message_start = c.out.size();
    c.in_message = false;
    c.deciding = true;
    c.word_length = 0;
    c.after_word = false;
    return true;
  }

  // Bytes that may be sent: not the held start of a possible command.
  static size_t sendable(const Connection& c) { return c.deciding ? c.message_start : c.out.size(); }

  // Sends what may go: not the held start of a possible command.
  bool flush(Connection& c) {
    size_t ready = sendable(c);
    size_t sent = 0;
    while (sent < ready) {
      ssize_t n = send(c.fd, c.out.data() + sent, ready - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    c.out.erase(0, sent);
    c.message_start -= sent;
    return true;
  }

  void drop(Connection& c) {
    close(c.fd);  // also removes it from the epoll set
    connections_.erase(c.fd);
  }

  int listen_fd_;
  int epoll_fd_;
  bool accept_paused_ = false;
  char buffer_[read_size];
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
};

int open_listener(const char* host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    std::fprintf(stderr, "reference-server: not an IPv4 address: %s\n", host);
    std::exit(64);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "reference-server: socket() failed: %s\n", std::strerror(errno));
    std::exit(71);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 511) != 0) {
    std::fprintf(stderr, "reference-server: cannot listen on %s:%d: %s\n", host, port, std::strerror(errno));
    std::exit(71);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--host" && i + 1 < argc) host = argv[++i];
    else if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: reference-server [--host IPV4] [--port N]\n");
      return 64;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  int listen_fd = open_listener(host, port);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    std::fprintf(stderr, "reference-server: getsockname() failed: %s\n", std::strerror(errno));
    return 71;
  }
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd;
  if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
    std::fprintf(stderr, "reference-server: epoll set-up failed: %s\n", std::strerror(errno));
    return 71;
  }
  std::printf("listening on %s:%d\n", host, ntohs(bound.sin_port));
  std::fflush(stdout);
  auto server = std::make_unique<Server>(listen_fd, epoll_fd);
  server->run();
}
