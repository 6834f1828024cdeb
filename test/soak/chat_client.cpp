#include "chat_client.hpp"

#include <poll.h>

#include <thread>

#include "access_log.hpp"
#include "chat_group.hpp"

namespace soak {
namespace {

const Endpoint& pick(const ChatTargets& t, Rng& rng) {
  return t.streams[static_cast<size_t>(uniform(rng, 0, static_cast<int>(t.streams.size()) - 1))];
}

// Connects, never reads for a while, then takes what came. The server cuts
// it once more than chat_backlog waits for it: by design, not a failure.
void run_sleeper(const ChatTargets& t, Ledger& ledger, Rng& rng) {
  End end = End::none;
  auto conn = Conn::open(pick(t, rng), &end);
  ledger.count("chat clients");
  if (!conn) {
    ledger.fail(std::string("chat: ") + end_name(end), "sleeper");
    return;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(uniform(rng, 1000, 4000)));  // not reading is the point
  std::string in;
  bool eof = false;
  auto until = Clock::now() + 10s;
  // Read until the stream pauses: what was queued, then EOF if it was cut.
  while (end == End::none && Clock::now() < until) {
    if (!(wait_for(conn->fd(), POLLIN, std::min(until, Clock::now() + 200ms)) & (POLLIN | POLLHUP | POLLERR))) break;
    if (receive_some(conn->fd(), in, 1 << 20, &end) == 0) {
      eof = true;
      break;
    }
  }
  bool notice = in.find("ERR too slow\n") != std::string::npos;
  // overflow = reject: with every worker busy the master turns it away at
  // once, as the chat groups' members may be.
  if (in.rfind("ERR too many clients\n", 0) == 0) {
    ledger.excuse("chat: rejected, every worker busy");
  } else if (notice && in.find("ERR too slow\n") + 13 != in.size()) {
    ledger.fail("chat: ERR too slow was not the last line", "sleeper");
  } else if (end != End::none || eof) {
    auto now = std::chrono::system_clock::now();
    auto opened = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - conn->opened());
    if (ledger.killed_while_serving(t.server, conn->key(), conn->opened()))
      ledger.excuse("chat: sleeper's worker killed");
    else if (!await_access_log(t.access_log, conn->key(), "too-slow", opened - 1s, 4s))
      ledger.fail("chat: a sleeper closed, not for chat_backlog", conn->key().tcp.empty() ? "unix" : conn->key().tcp);
    else
      ledger.excuse(notice ? "chat: sleeper cut at chat_backlog" : "chat: sleeper cut at chat_backlog (the notice lost in its full buffers)");
  } else {
    ledger.count("chat sleepers kept");
  }
}

// Talks a little (other groups ignore "X" lines), maybe leaves half a line, resets.
void run_resetter(const ChatTargets& t, Ledger& ledger, Rng& rng) {
  End end = End::none;
  auto conn = Conn::open(pick(t, rng), &end);
  ledger.count("chat clients");
  if (!conn) {
    ledger.fail(std::string("chat: ") + end_name(end), "resetting client");
    return;
  }
  std::string out;
  for (int i = uniform(rng, 0, 5); i > 0; --i) out += "X " + random_message(rng, static_cast<size_t>(uniform(rng, 0, 200))) + "\n";
  if (chance(rng, 0.5)) out += "X unfinished";
  send_some(conn->fd(), out.data(), out.size(), &end);
  // Sometimes the reset comes while the server is still handling what was sent.
  if (chance(rng, 0.5)) std::this_thread::sleep_for(std::chrono::milliseconds(uniform(rng, 0, 50)));
  conn->reset();
  ledger.count("chat resets");
}

// Sends more than chat_backlog in one burst, reading all the while, then
// exit: its own messages are never sent to it, so it must not be cut as too
// slow (it was, before chat_service.cpp read past them).
void run_burster(const ChatTargets& t, Ledger& ledger, Rng& rng) {
  End end = End::none;
  auto conn = Conn::open(pick(t, rng), &end);
  ledger.count("chat clients");
  if (!conn) {
    ledger.fail(std::string("chat: ") + end_name(end), "bursting client");
    return;
  }
  std::string out;
  // Two to four backlogs: one read of the worker (64 KiB) then holds more
  // of its own messages than its backlog. (Readers elsewhere that fall a
  // backlog behind such a burst are cut, as designed: see chat_group.cpp.)
  while (out.size() < t.backlog * static_cast<size_t>(uniform(rng, 2, 4)))
    out += "X " + std::string(static_cast<size_t>(uniform(rng, 100, 2000)), 'b') + "\n";
  out += "exit\n";
  std::string in;
  size_t sent = 0;
  bool eof = false;
  auto until = Clock::now() + 30s;
  while (end == End::none && !eof && Clock::now() < until) {
    short revents = wait_for(conn->fd(), static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), until);
    if (revents & (POLLIN | POLLHUP | POLLERR)) eof = receive_some(conn->fd(), in, 1 << 20, &end) == 0;
    if (in.size() > (1 << 20)) in.erase(0, in.size() - 4096);  // only the end matters
    if ((revents & POLLOUT) && end == End::none) {
      long n = send_some(conn->fd(), out.data() + sent, out.size() - sent, &end);
      if (n > 0) sent += static_cast<size_t>(n);
    }
  }
  bool cut = in.find("ERR too slow\n") != std::string::npos;
  if ((cut || end != End::none || !eof) && ledger.killed_while_serving(t.server, conn->key(), conn->opened())) {
    ledger.excuse("chat: bursting client's worker killed");
  } else if (cut) {
    ledger.fail("chat: a sender cut as too slow by its own burst", std::to_string(out.size()) + " bytes sent");
  } else if (end != End::none || !eof) {
    ledger.fail(std::string("chat: bursting client: ") + end_name(end != End::none ? end : End::timeout),
                std::to_string(sent) + " of " + std::to_string(out.size()) + " bytes sent");
  } else {
    ledger.count("chat bursts over chat_backlog");
  }
}

}  // namespace

void run_chat_client(const ChatTargets& targets, Ledger& ledger, Rng& rng) {
  int r = uniform(rng, 0, 99);
  if (r < 66) ChatGroup(targets, ledger, rng).run();
  else if (r < 78) run_sleeper(targets, ledger, rng);
  else if (r < 88) run_resetter(targets, ledger, rng);
  else run_burster(targets, ledger, rng);
}

}  // namespace soak
