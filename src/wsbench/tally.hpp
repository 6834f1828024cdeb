// tally.hpp: what one client thread counted; merged into the run's result.
#pragma once

#include <cstdint>
#include <string>

#include "histogram.hpp"

namespace wsbench {

enum class Failure { mismatch, early_close, connect, io };

struct Tally {
  uint64_t completed = 0;  // replies checked complete (connrate: connections)
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t mismatches = 0;
  uint64_t early_closes = 0;  // the server closed or reset before the reply was complete
  uint64_t connect_failures = 0;
  uint64_t io_errors = 0;     // any other failed system call
  uint64_t unanswered = 0;    // connections still waiting for a reply at the deadline
  int64_t last_reply_ns = 0;  // monotonic time of the last complete reply
  Histogram latency;          // send (connrate: connect) to the reply's last byte
  std::string first_problem;

  void count(Failure failure);
  uint64_t errors() const { return mismatches + early_closes + connect_failures + io_errors; }
  void merge(const Tally& other);
};

}  // namespace wsbench
