#include "chat_client.hpp"

#include <poll.h>

#include <thread>

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
  if (notice && in.find("ERR too slow\n") + 13 != in.size()) {
    ledger.fail("chat: ERR too slow was not the last line", "sleeper");
  } else if (end != End::none || eof) {
    if (ledger.killed_while_serving(t.server, conn->key(), conn->opened())) ledger.excuse("chat: sleeper's worker killed");
    else ledger.excuse(notice ? "chat: sleeper cut at chat_backlog" : "chat: sleeper cut at chat_backlog (notice did not fit)");
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

}  // namespace

void run_chat_client(const ChatTargets& targets, Ledger& ledger, Rng& rng) {
  int r = uniform(rng, 0, 99);
  if (r < 70) ChatGroup(targets, ledger, rng).run();
  else if (r < 82) run_sleeper(targets, ledger, rng);
  else run_resetter(targets, ledger, rng);
}

}  // namespace soak
