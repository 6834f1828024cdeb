#include "chat_run.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "chat_order.hpp"
#include "client_thread.hpp"
#include "clock.hpp"
#include "wsserver/fd.hpp"

namespace wsbench {
namespace {

constexpr int64_t announce_every_ns = 50000000;
constexpr int64_t tick_ns = 100000000;     // how often the loop looks at the clock anyway
constexpr size_t read_size = 256 * 1024;
constexpr size_t unsent_limit = 64 * 1024;  // a client adds no message while this much waits for its socket
constexpr int max_events = 256;
constexpr int problems_shown = 10;

bool is_close(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED; }

class ChatRun {
 public:
  ChatRun(const Options& options, const Target& target);
  ChatResult run();

 private:
  enum class Phase { join, timed, done };
  enum class Loss { connect, early_close, io, none };
  struct Client {
    uint32_t id = 0;
    ws::Fd fd;
    bool connecting = false;
    bool noticed = false;  // the server sent a notice, so its close is no surprise
    uint32_t events = 0;
    std::string out;       // bytes its socket has not taken yet
    std::string in;        // a line not yet ended
    int64_t next_announce_ns = 0;
    int64_t next_send_ns = 0;
  };

  void loop();
  void sum_up();
  void open(Client& c);
  void on_event(Client& c, uint32_t events);
  void on_connected(Client& c);
  void receive(Client& c);
  void on_line(Client& c, std::string_view line, int64_t now);
  void announce(Client& c, int64_t now);
  void send_messages(Client& c);
  bool may_send(const Client& c, int64_t now) const;
  void flush(Client& c);
  void watch(Client& c);
  void lose(Client& c, Loss loss, const std::string& what);
  void problem(const Client& c, const std::string& what);
  void start_timed(int64_t now);
  bool timed_done() const;
  int wait_ms(int64_t now) const;
  void at_deadline();

  const Options& options_;
  const Target& target_;
  std::vector<Target> targets_;  // target_ and the --also-port instances
  const uint32_t clients_;
  const uint32_t per_client_;
  const char line_end_;  // the terminator's last byte
  const bool crlf_;
  const int64_t period_ns_;  // between a client's messages; 0 = no rate
  ChatLedger ledger_;
  std::vector<Client> conns_;
  ws::Fd epoll_;
  std::unique_ptr<char[]> buffer_;
  Phase phase_ = Phase::join;
  int64_t start_ns_ = 0, deadline_ns_ = 0, timed_ns_ = 0;
  int problems_ = 0;
  ChatResult result_;
};

ChatRun::ChatRun(const Options& options, const Target& target)
    : options_(options),
      target_(target),
      clients_(static_cast<uint32_t>(options.connections)),
      per_client_(static_cast<uint32_t>(options.count)),
      line_end_(options.reply_terminator == "nul" ? '\0' : '\n'),
      crlf_(options.reply_terminator == "crlf"),
      period_ns_(options.rate > 0 ? static_cast<int64_t>(1e9 / options.rate) : 0),
      ledger_(clients_, per_client_, options.size),
      conns_(clients_) {
  targets_.push_back(target);
  for (uint16_t port : options.also_ports) {
    Target t = target;
    if (t.address.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(t.address).sin_port = htons(port);
    if (t.address.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(t.address).sin6_port = htons(port);
    t.name += " +" + std::to_string(port);
    targets_.push_back(t);
  }
}

ChatResult ChatRun::run() {
  double cpu_start = cpu_seconds();
  epoll_ = ws::Fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) {
    result_.error = std::string("epoll_create1() failed: ") + std::strerror(errno);
    return result_;
  }
  buffer_ = std::make_unique<char[]>(read_size);
  start_ns_ = now_ns();
  deadline_ns_ = start_ns_ + static_cast<int64_t>(options_.deadline * 1e9);
  for (uint32_t i = 0; i < clients_; ++i) conns_[i].id = i;
  for (auto& c : conns_)
    if (phase_ == Phase::join) open(c);
  loop();
  for (auto& c : conns_) c.fd.reset();
  sum_up();
  result_.cpu_seconds = cpu_seconds() - cpu_start;
  return result_;
}

void ChatRun::loop() {
  epoll_event events[max_events];
  while (phase_ != Phase::done) {
    int64_t now = now_ns();
    if (now >= deadline_ns_ || stop_requested()) return at_deadline();
    for (auto& c : conns_) {
      if (!c.fd || c.connecting || phase_ == Phase::done) continue;
      if (phase_ == Phase::join) announce(c, now);
      else send_messages(c);
    }
    if (phase_ == Phase::done || (phase_ == Phase::timed && timed_done())) return;
    int n = epoll_wait(epoll_.get(), events, max_events, wait_ms(now));
    if (n < 0 && errno != EINTR) {
      result_.error = std::string("epoll_wait() failed: ") + std::strerror(errno);
      return;
    }
    for (int i = 0; i < n; ++i) on_event(conns_[events[i].data.u32], events[i].events);
    // A join that went wrong once (an own copy, a notice...) is not retried.
    if (phase_ == Phase::join && problems_ > 0) phase_ = Phase::done;
    if (phase_ == Phase::join && ledger_.all_heard()) start_timed(now_ns());
  }
}

// The ledger's figures into the result, and the global order check.
void ChatRun::sum_up() {
  result_.joined = timed_ns_ > 0;
  result_.counts = ledger_.counts();
  result_.delivery_latency = ledger_.delivery_latency();
  result_.fan_out_latency = ledger_.fan_out_latency();
  if (!result_.joined) return;
  int64_t end = std::max(result_.counts.last_delivery_ns, timed_ns_);
  result_.seconds = static_cast<double>(end - timed_ns_) / 1e9;
  std::string conflict = find_order_conflict(ledger_.orders(), per_client_);
  if (conflict.empty()) return;
  result_.order_conflicts = 1;
  if (result_.first_problem.empty()) result_.first_problem = conflict;
  std::fprintf(stderr, "wsbench: %s\n", conflict.c_str());
}

void ChatRun::open(Client& c) {
  const Target& target = targets_[c.id % targets_.size()];
  c.fd = ws::Fd(target_socket(target, false));
  if (!c.fd) return lose(c, Loss::connect, std::string("socket() failed: ") + std::strerror(errno));
  if (connect(c.fd.get(), reinterpret_cast<const sockaddr*>(&target.address), target.length) == 0) {
    watch(c);
    return on_connected(c);
  }
  if (errno != EINPROGRESS) return lose(c, Loss::connect, "connect to " + target.name + ": " + std::strerror(errno));
  c.connecting = true;
  watch(c);
}

void ChatRun::on_event(Client& c, uint32_t events) {
  if (!c.fd) return;
  if (c.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return lose(c, Loss::connect, "connect to " + targets_[c.id % targets_.size()].name + ": " + std::strerror(err));
    if (!(events & EPOLLOUT)) return;
    c.connecting = false;
    watch(c);
    return on_connected(c);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) receive(c);
  if (c.fd && (events & EPOLLOUT)) flush(c);
}

void ChatRun::on_connected(Client& c) {
  if (phase_ == Phase::join) announce(c, now_ns());
}

void ChatRun::announce(Client& c, int64_t now) {
  if (ledger_.heard_by_all(c.id) || now < c.next_announce_ns) return;
  c.next_announce_ns = now + announce_every_ns;
  c.out += chat_hello(c.id);
  c.out += '\n';
  flush(c);
}

void ChatRun::start_timed(int64_t now) {
  phase_ = Phase::timed;
  timed_ns_ = now;
  result_.join_seconds = static_cast<double>(now - start_ns_) / 1e9;
  // Rated clients start spread over one period, not all at once.
  for (auto& c : conns_) c.next_send_ns = now + period_ns_ * c.id / clients_;
}

bool ChatRun::may_send(const Client& c, int64_t now) const {
  uint32_t sent = ledger_.sent(c.id);
  return sent < per_client_ && sent - ledger_.completed(c.id) < static_cast<uint32_t>(options_.window) &&
         (period_ns_ == 0 || now >= c.next_send_ns) && c.out.size() < unsent_limit;
}

void ChatRun::send_messages(Client& c) {
  bool added = false;
  for (int64_t now = now_ns(); may_send(c, now); now = now_ns()) {
    uint32_t seq = ledger_.sent(c.id);
    c.out += ledger_.send(c.id, now);
    // Both terminators the server accepts, in turn.
    c.out += seq % 2 ? '\0' : '\n';
    c.next_send_ns += period_ns_;
    added = true;
  }
  if (added) flush(c);
}

void ChatRun::flush(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && is_close(errno)) return lose(c, Loss::early_close, std::string("server closed: ") + std::strerror(errno));
    return lose(c, Loss::io, std::string("send() failed: ") + std::strerror(errno));
  }
  watch(c);
}

void ChatRun::receive(Client& c) {
  ssize_t n = recv(c.fd.get(), buffer_.get(), read_size, MSG_DONTWAIT);
  if (n == 0) return lose(c, Loss::early_close, "server closed the connection");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    if (is_close(errno)) return lose(c, Loss::early_close, std::string("server reset: ") + std::strerror(errno));
    return lose(c, Loss::io, std::string("recv() failed: ") + std::strerror(errno));
  }
  if (phase_ == Phase::timed) result_.bytes_received += static_cast<uint64_t>(n);
  int64_t now = now_ns();
  std::string_view data(buffer_.get(), static_cast<size_t>(n));
  for (size_t end; c.fd && (end = data.find(line_end_)) != std::string_view::npos; data.remove_prefix(end + 1)) {
    if (c.in.empty()) {
      on_line(c, data.substr(0, end), now);
    } else {
      c.in.append(data.substr(0, end));
      std::string line = std::move(c.in);
      c.in.clear();
      on_line(c, line, now);
    }
  }
  if (!c.fd) return;
  c.in.append(data);
  // No line wsbench expects is this long: the stream is lost.
  if (c.in.size() > options_.size + 64) {
    std::string what;
    ledger_.deliver(c.id, ChatLine{}, c.in, now, &what);  // booked as a bad line
    problem(c, what + ", not ended (is --reply-terminator the server's?)");
    lose(c, Loss::none, "");
  }
}

void ChatRun::on_line(Client& c, std::string_view line, int64_t now) {
  if (crlf_) {
    if (line.ends_with('\r')) line.remove_suffix(1);
    else line = {};  // unreadable: the terminator was not CRLF
  }
  ChatLine parsed = parse_chat_line(line);
  std::string what;
  switch (parsed.kind) {
    case ChatLine::Kind::notice:
      // The server closes after its notice: what matters is why.
      c.noticed = true;
      if (line == "ERR too slow") ++result_.too_slow;
      else ++result_.notices;
      return problem(c, "server said: " + std::string(line));
    case ChatLine::Kind::hello:
      if (!ledger_.hear(c.id, parsed.sender, &what)) problem(c, what);
      return;
    case ChatLine::Kind::message:
    case ChatLine::Kind::bad:
      if (!ledger_.deliver(c.id, parsed, line, now, &what)) problem(c, what);
      return;
  }
}

void ChatRun::watch(Client& c) {
  uint32_t out = EPOLLOUT;
  uint32_t events = c.connecting ? out : EPOLLIN | (c.out.empty() ? 0 : out);
  if (!c.fd || c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = c.id;
  int op = c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_.get(), op, c.fd.get(), &ev) != 0)
    return lose(c, Loss::io, std::string("epoll_ctl() failed: ") + std::strerror(errno));
  c.events = events;
}

void ChatRun::lose(Client& c, Loss loss, const std::string& what) {
  if (!c.noticed) {
    switch (loss) {
      case Loss::connect: ++result_.connect_failures; break;
      case Loss::early_close: ++result_.early_closes; break;
      case Loss::io: ++result_.io_errors; break;
      case Loss::none: break;
    }
    if (loss != Loss::none) problem(c, what);
  }
  c.fd.reset();
  c.connecting = false;
  ledger_.drop_client(c.id);
  // Without every client the join cannot complete.
  if (phase_ == Phase::join) phase_ = Phase::done;
}

void ChatRun::problem(const Client& c, const std::string& what) {
  std::string text = "client " + std::to_string(c.id) + ": " + what;
  if (result_.first_problem.empty()) result_.first_problem = text;
  if (problems_ < problems_shown) std::fprintf(stderr, "wsbench: %s\n", text.c_str());
  else if (problems_ == problems_shown) std::fprintf(stderr, "wsbench: more errors, not shown\n");
  ++problems_;
}

bool ChatRun::timed_done() const {
  for (const auto& c : conns_)
    if (c.fd && ledger_.sent(c.id) < per_client_) return false;
  return ledger_.outstanding() == 0;
}

int ChatRun::wait_ms(int64_t now) const {
  int64_t wake = std::min(deadline_ns_, now + tick_ns);
  for (const auto& c : conns_) {
    if (!c.fd || c.connecting) continue;
    if (phase_ == Phase::join && !ledger_.heard_by_all(c.id)) wake = std::min(wake, c.next_announce_ns);
    if (phase_ == Phase::timed && period_ns_ > 0 && ledger_.sent(c.id) < per_client_)
      wake = std::min(wake, c.next_send_ns);
  }
  return static_cast<int>(std::max<int64_t>(0, (wake - now + 999999) / 1000000));
}

void ChatRun::at_deadline() {
  if (phase_ == Phase::join) {
    uint32_t heard = 0;
    for (uint32_t i = 0; i < clients_; ++i) heard += ledger_.heard_by_all(i) ? 1 : 0;
    std::string text = "the join did not complete: " + std::to_string(heard) + " of " + std::to_string(clients_) +
                       " clients were heard by all others (does the server have " + std::to_string(clients_) +
                       " idle workers?)";
    if (result_.first_problem.empty()) result_.first_problem = text;
    std::fprintf(stderr, "wsbench: %s\n", text.c_str());
    return;
  }
  result_.missing = ledger_.outstanding();
  for (const auto& c : conns_)
    if (c.fd) result_.unsent += per_client_ - ledger_.sent(c.id);
  std::string text = "deadline: " + std::to_string(result_.missing) + " copies still due, " +
                     std::to_string(result_.unsent) + " messages not sent";
  if (result_.first_problem.empty()) result_.first_problem = text;
  std::fprintf(stderr, "wsbench: %s\n", text.c_str());
}

}  // namespace

uint64_t ChatResult::errors() const {
  return connect_failures + early_closes + too_slow + notices + io_errors + missing + unsent + order_conflicts +
         counts.bad_lines + counts.own_copies + counts.duplicates + counts.out_of_order + (joined ? 0 : 1);
}

ChatResult run_chat(const Options& options, const Target& target) { return ChatRun(options, target).run(); }

}  // namespace wsbench
