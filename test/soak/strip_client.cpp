#include "strip_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

namespace soak {
namespace {

enum class Kind { pipeline, exit_command, half_close, slow_reader, reset, oversized, datagram };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::pipeline: return "pipeline";
    case Kind::exit_command: return "exit";
    case Kind::half_close: return "half-close";
    case Kind::slow_reader: return "slow reader";
    case Kind::reset: return "reset";
    case Kind::oversized: return "megabytes";
    case Kind::datagram: return "udp";
  }
  return "?";
}

Kind pick_kind(Rng& rng, bool have_udp) {
  int r = uniform(rng, 0, 99);
  if (r < 30) return Kind::pipeline;
  if (r < 42) return Kind::exit_command;
  if (r < 57) return Kind::half_close;
  if (r < 65) return Kind::slow_reader;
  if (r < 80) return Kind::reset;
  if (r < 86) return Kind::oversized;
  return have_udp ? Kind::datagram : Kind::pipeline;
}

// What one connection sends, how, and what must come back.
struct Plan {
  std::string out, expected;
  size_t messages = 0;
  bool half_close = false;            // shut down our side once everything is sent
  bool expect_eof = false;            // the server closes after the last reply
  size_t reset_after = std::string::npos;  // reset once this many bytes are sent
  size_t chunk_most = 65536;          // largest send
  double pause_chance = 0;            // chance of a pause of up to 3 ms after a send
  size_t read_most = 65536;           // largest recv
  int read_pause_us = 0;              // pause after each recv (a slow reader)
};

void add_messages(Plan& p, Rng& rng, size_t count, size_t fixed_length = 0) {
  for (size_t i = 0; i < count; ++i) {
    std::string m = random_message(rng, fixed_length ? fixed_length : random_length(rng)) + random_terminator(rng);
    append_strip_replies(m, p.expected);
    p.out += m;
    ++p.messages;
  }
}

Plan make_plan(Kind kind, Rng& rng) {
  Plan p;
  switch (kind) {
    case Kind::pipeline:
    case Kind::reset:
      add_messages(p, rng, static_cast<size_t>(uniform(rng, 1, 200)));
      if (kind == Kind::reset) p.reset_after = static_cast<size_t>(uniform(rng, 0, static_cast<int>(p.out.size())));
      break;
    case Kind::exit_command:
      add_messages(p, rng, static_cast<size_t>(uniform(rng, 0, 100)));
      p.out += random_exit_command(rng);
      p.expect_eof = true;
      break;
    case Kind::half_close: {
      add_messages(p, rng, static_cast<size_t>(uniform(rng, 0, 100)));
      std::string tail = random_message(rng, static_cast<size_t>(uniform(rng, 1, 3000)));
      p.out += tail;
      append_strip_replies(tail + '\0', p.expected);  // answered as a final message
      ++p.messages;
      p.half_close = p.expect_eof = true;
      break;
    }
    case Kind::slow_reader:
      // Up to about 2 MB read a few KiB per millisecond: the server's sends block.
      add_messages(p, rng, static_cast<size_t>(uniform(rng, 100, 500)), static_cast<size_t>(uniform(rng, 1000, 4000)));
      p.read_most = static_cast<size_t>(uniform(rng, 1024, 8192));
      p.read_pause_us = uniform(rng, 200, 1000);
      break;
    case Kind::oversized:
      add_messages(p, rng, 1, static_cast<size_t>(uniform(rng, 2, 8)) << 20);
      add_messages(p, rng, static_cast<size_t>(uniform(rng, 0, 3)));
      break;
    case Kind::datagram:
      break;
  }
  int split = uniform(rng, 0, 3);
  if (split == 0 && p.out.size() > 20000) split = 1;  // byte by byte only for small exchanges
  p.chunk_most = split == 0 ? 8 : split == 1 ? 512 : split == 2 ? 8192 : 65536;
  p.pause_chance = chance(rng, 0.3) ? 0.1 : 0;
  return p;
}

std::string printable(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 32 && c < 127 && c != '\\') out += static_cast<char>(c);
    else out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
  }
  return out;
}

size_t count_nul(std::string_view s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\0')); }

// Runs a plan over `c`: sends in random splits while reading and checking
// every reply byte as it comes. `checked` gets how much matched.
End exchange(Conn& c, const Plan& p, Rng& rng, size_t* checked) {
  auto deadline = Clock::now() + 30s + std::chrono::seconds(p.out.size() >> 20);
  size_t sent = 0;
  bool shut = false, eof = false;
  std::string got;
  auto next_send = Clock::now(), next_read = Clock::now();
  for (;;) {
    size_t to_send = std::min(p.out.size(), p.reset_after);
    if (p.reset_after != std::string::npos && sent >= p.reset_after) {
      c.reset();
      return End::none;
    }
    if (sent == to_send && p.half_close && !shut) {
      c.half_close();
      shut = true;
    }
    if (*checked == p.expected.size() && (!p.expect_eof || eof)) {
      // Nothing more may come: a byte past the replies is a wrong reply.
      End failed = End::none;
      if (receive_some(c.fd(), got, 1, &failed) > 0) return End::mismatch;
      return End::none;
    }
    if (eof) return End::eof;
    auto now = Clock::now();
    if (now >= deadline) return End::timeout;
    short events = 0;
    auto wake = deadline;
    if (now >= next_read) events |= POLLIN;
    else wake = std::min(wake, next_read);
    if (sent < to_send && now >= next_send) events |= POLLOUT;
    else if (sent < to_send) wake = std::min(wake, next_send);
    short revents = 0;
    if (events) revents = wait_for(c.fd(), events, wake);
    else std::this_thread::sleep_until(wake);
    End failed = End::none;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      long n = receive_some(c.fd(), got, p.read_most, &failed);
      if (failed != End::none) return failed;
      if (n == 0) eof = true;
      if (got.size() > p.expected.size() - *checked ||
          p.expected.compare(*checked, got.size(), got) != 0) {
        // Show where: the first byte that differs.
        size_t i = 0;
        while (i < got.size() && *checked + i < p.expected.size() && got[i] == p.expected[*checked + i]) ++i;
        *checked += i;
        return End::mismatch;
      }
      *checked += got.size();
      got.clear();
      if (p.read_pause_us) next_read = Clock::now() + std::chrono::microseconds(p.read_pause_us);
    }
    if (revents & POLLOUT) {
      size_t size = std::min<size_t>(to_send - sent, static_cast<size_t>(uniform(rng, 1, static_cast<int>(p.chunk_most))));
      long n = send_some(c.fd(), p.out.data() + sent, size, &failed);
      if (failed != End::none) return failed;
      if (n > 0) sent += static_cast<size_t>(n);
      if (p.pause_chance > 0 && chance(rng, p.pause_chance)) next_send = Clock::now() + std::chrono::microseconds(uniform(rng, 0, 3000));
    }
  }
}

void run_stream(const StripTargets& t, Kind kind, Ledger& ledger, Rng& rng) {
  const Endpoint& to = t.streams[static_cast<size_t>(uniform(rng, 0, static_cast<int>(t.streams.size()) - 1))];
  Plan plan = make_plan(kind, rng);
  End end = End::none;
  auto conn = Conn::open(to, &end);
  std::string what = std::string("strip ") + kind_name(kind) + " client";
  if (!conn) {
    ledger.fail(std::string("strip: ") + end_name(end), what + " to " + to.text());
    return;
  }
  size_t checked = 0;
  end = exchange(*conn, plan, rng, &checked);
  ledger.count("strip clients");
  ledger.maximum("strip client, longest (ms)",
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - conn->opened()).count());
  ledger.count("strip replies verified", static_cast<long>(count_nul(std::string_view(plan.expected).substr(0, checked))));
  ledger.count("strip bytes verified", static_cast<long>(checked));
  if (end == End::none) return;
  if (end == End::mismatch) {
    size_t from = checked >= 16 ? checked - 16 : 0;
    ledger.fail("strip: wrong reply", what + " to " + to.text() + ": reply differs at byte " + std::to_string(checked) +
                                          " of " + std::to_string(plan.expected.size()) + " (expected near: " +
                                          printable(plan.expected.substr(from, 32)) + ")");
  } else if (ledger.killed_while_serving(t.server, conn->key(), conn->opened())) {
    ledger.excuse(std::string("strip: worker killed (") + end_name(end) + ")");
  } else {
    ledger.fail(std::string("strip: ") + end_name(end),
                what + " to " + to.text() + " from " + (conn->key().tcp.empty() ? "unix" : conn->key().tcp) + " after " +
                    std::to_string(checked) + " of " + std::to_string(plan.expected.size()) + " reply bytes");
  }
}

void run_datagram(const StripTargets& t, Ledger& ledger, Rng& rng) {
  const Endpoint& to = t.datagrams[static_cast<size_t>(uniform(rng, 0, static_cast<int>(t.datagrams.size()) - 1))];
  ws::Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr);
  std::string m = random_message(rng, static_cast<size_t>(uniform(rng, 0, 1000)));
  std::string expected;
  append_strip_replies(m + '\0', expected);
  if (chance(rng, 0.5)) m += random_terminator(rng);
  auto sent_at = Clock::now();
  ledger.count("udp datagrams");
  if (sendto(fd.get(), m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    ledger.fail("udp: send failed", to.text());
    return;
  }
  auto deadline = sent_at + 10s;
  while (Clock::now() < deadline) {
    if (!(wait_for(fd.get(), POLLIN, deadline) & POLLIN)) continue;
    std::string reply(70000, '\0');
    ssize_t n = recv(fd.get(), reply.data(), reply.size(), MSG_DONTWAIT);
    if (n < 0) continue;
    reply.resize(static_cast<size_t>(n));
    if (reply == expected) ledger.count("udp replies verified");
    else ledger.fail("udp: wrong reply", to.text() + ": " + std::to_string(n) + " bytes, expected " + std::to_string(expected.size()));
    return;
  }
  // A worker killed with the datagram in hand loses it, as UDP may.
  if (ledger.kill_between(t.server, sent_at - 100ms, Clock::now())) ledger.excuse("udp: lost around a kill");
  else ledger.fail("udp: no reply", to.text() + " within 10 s");
}

}  // namespace

void run_strip_client(const StripTargets& targets, Ledger& ledger, Rng& rng) {
  Kind kind = pick_kind(rng, !targets.datagrams.empty());
  if (kind == Kind::datagram) run_datagram(targets, ledger, rng);
  else run_stream(targets, kind, ledger, rng);
}

}  // namespace soak
