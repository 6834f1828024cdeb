// chat_run.hpp: the chat mode. C clients join the chat service, then each
// sends its messages while all of them receive; chat_ledger.hpp checks what
// arrives, chat_order.hpp the global order at the end.
//
// The join is a barrier. A message published before another client's worker
// has joined the chat never reaches that client, and wsbench cannot see when
// a worker joins; so each client announces itself ("h<id>") and repeats that
// every 50 ms until every other client has heard it. Once all have heard
// all, the timed phase starts.
//
// Senders are paced, so that the run measures the fan-out rather than the
// server's chat_backlog overflowing: a client keeps at most `window` of its
// messages out that some connected client has not yet received, and with a
// rate sends no faster than that. One thread drives every client.
#pragma once

#include <cstdint>
#include <string>

#include "chat_ledger.hpp"
#include "histogram.hpp"
#include "options.hpp"
#include "target.hpp"

namespace wsbench {

struct ChatResult {
  bool joined = false;         // every client heard every other before the deadline
  double join_seconds = 0;     // first connect to the end of the join
  double seconds = 0;          // first timed message to the last delivery
  ChatCounts counts;
  Histogram delivery_latency;  // send to each copy
  Histogram fan_out_latency;   // send to a message's last copy
  uint64_t bytes_received = 0;  // timed phase
  uint64_t connect_failures = 0;
  uint64_t early_closes = 0;   // the server closed or reset a client without a notice
  uint64_t too_slow = 0;       // "ERR too slow": the server dropped a client that fell behind
  uint64_t notices = 0;        // any other server notice
  uint64_t io_errors = 0;
  uint64_t missing = 0;        // copies still due to connected clients at the deadline
  uint64_t unsent = 0;         // messages connected clients had not sent by the deadline
  uint64_t order_conflicts = 0;  // 1 if no global order fits what the clients got
  double cpu_seconds = 0;
  std::string first_problem;
  std::string error;           // the run could not start (epoll...)

  uint64_t errors() const;
};

ChatResult run_chat(const Options& options, const Target& target);

}  // namespace wsbench
