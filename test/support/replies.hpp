// replies.hpp (tests): replies as a plain client receives them, each ended
// with a terminator, for tests that drive a session or a service directly.
#pragma once

#include <string>

#include "wsserver/replies.hpp"

namespace test {

struct Output {
  explicit Output(ws::Terminator t = ws::Terminator::nul) : framing(t), replies(framing) {}
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  // Passed where a session or a service writes.
  operator ws::Replies&() { return replies; }
  const std::string& text() const { return replies.wire(); }

  ws::TerminatedReplies framing;
  ws::Replies replies;
};

}  // namespace test
