// ready.hpp: the ready mode: wait until the server answers one message,
// retrying refused or dropped connections, to time a start or a respawn.
#pragma once

#include <string>

#include "options.hpp"
#include "target.hpp"

namespace wsbench {

struct ReadyResult {
  bool answered = false;  // a correct reply arrived before the deadline
  double seconds = 0;     // from --since (or wsbench's start) to that reply
  int attempts = 0;       // connections tried
  bool mismatch = false;  // a reply came and was wrong: no retry helps
  std::string problem;    // the last thing that went wrong
};

ReadyResult wait_ready(const Options& options, const Target& target);

}  // namespace wsbench
