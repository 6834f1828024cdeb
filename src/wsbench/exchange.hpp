// exchange.hpp: one message and its reply on one connection: where sending
// stands, and a byte-for-byte check of the reply as it streams in, whatever
// the TCP split.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "payload.hpp"

namespace wsbench {

enum class Progress { more, complete, mismatch };

class Exchange {
 public:
  void start(const Message& message);

  // Fills up to `max` iovecs with the next bytes to send; returns how many.
  int next_send(iovec* iov, int max) const;
  void sent(uint64_t bytes) { sent_ += bytes; }
  bool send_done() const { return sent_ == message_->wire_size(); }

  // Checks reply bytes. After `complete`, any further byte is a mismatch
  // (the server answered something that was not asked).
  Progress receive(const char* data, size_t size);
  // For `mismatch`: where and what, in words.
  const std::string& problem() const { return problem_; }
  uint64_t received() const { return received_; }

 private:
  Progress fail(uint64_t at, char got);

  const Message* message_ = nullptr;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
  std::string problem_;
};

}  // namespace wsbench
