#include "tally.hpp"

#include <algorithm>

namespace wsbench {

void Tally::count(Failure failure) {
  switch (failure) {
    case Failure::mismatch: ++mismatches; break;
    case Failure::early_close: ++early_closes; break;
    case Failure::connect: ++connect_failures; break;
    case Failure::io: ++io_errors; break;
  }
}

void Tally::merge(const Tally& other) {
  completed += other.completed;
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  mismatches += other.mismatches;
  early_closes += other.early_closes;
  connect_failures += other.connect_failures;
  io_errors += other.io_errors;
  unanswered += other.unanswered;
  last_reply_ns = std::max(last_reply_ns, other.last_reply_ns);
  latency.merge(other.latency);
  if (first_problem.empty()) first_problem = other.first_problem;
}

}  // namespace wsbench
