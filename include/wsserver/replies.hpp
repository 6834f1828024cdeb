// replies.hpp: what a client is sent, as whole replies. A service or the
// session writes a reply's bytes and then ends it; how a reply is delimited
// on the wire (a terminator, a WebSocket frame) is the transport's choice
// (transport.hpp), so services never learn which transport carries them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/config.hpp"

namespace ws {

// How replies are delimited on the wire: a terminator after each (plain), a
// frame around each (WebSocket).
class ReplyFraming {
 public:
  virtual ~ReplyFraming() = default;
  // True: a reply's bytes wait in `reply` until it ends (a frame needs its
  // length first); false: they go onto the wire as they come.
  virtual bool holds_replies() const = 0;
  // The reply in progress is complete: frame it or terminate it on `wire`.
  virtual void end(std::string& wire, std::string& reply) const = 0;
};

// What a client is sent, whole replies at a time. The wire bytes wait here
// until the socket takes them; the queue knows where each reply ends, so a
// connection that must drop queued output never cuts a reply in half.
class Replies {
 public:
  explicit Replies(const ReplyFraming& framing) : framing_(&framing), holds_(framing.holds_replies()) {}

  // A service or the session writes a reply: its bytes, in parts, then end().
  void append(std::string_view bytes) { reply_bytes().append(bytes); }
  void end();
  // Where the reply in progress goes, for a writer that appends itself
  // (strip, without a copy in between).
  std::string& reply_bytes() { return holds_ ? reply_ : wire_; }
  // Bytes the transport itself sends, already framed (a pong, a close frame).
  void append_framed(std::string_view frame);

  // The framed bytes not yet taken by the socket.
  const std::string& wire() const { return wire_; }
  size_t size() const { return wire_.size(); }
  bool empty() const { return wire_.empty(); }
  // The socket took the first `n` bytes.
  void consume(size_t n);
  // Everything queued is gone (sent, or given up with the connection).
  void clear();
  // Drops what waits, but the rest of a reply whose start was sent: the
  // client must never see half a reply.
  void drop_unstarted();

 private:
  void mark_end();

  const ReplyFraming* framing_;
  bool holds_;
  std::string wire_;
  std::string reply_;  // a reply in progress that its framing holds back
  bool no_ends() const { return first_end_ == ends_.size(); }

  // Stream offsets (bytes ever queued) where the replies still in wire_ end,
  // from ends_[first_end_]; wire_[0] is at offset sent_. A vector, not a
  // deque: a deque allocates as it is made, and every worker makes three
  // before its first client, each allocation a page the new process copies.
  std::vector<uint64_t> ends_;
  size_t first_end_ = 0;
  uint64_t sent_ = 0;
  uint64_t last_end_ = 0;  // the last reply end the socket has taken
};

// Plain bytes: each reply ends with the configured reply terminator.
class TerminatedReplies : public ReplyFraming {
 public:
  explicit TerminatedReplies(Terminator t) : terminator_(terminator_bytes(t)) {}
  bool holds_replies() const override { return false; }
  void end(std::string& wire, std::string&) const override { wire.append(terminator_); }

 private:
  std::string_view terminator_;
};

}  // namespace ws
