// Replies: the queue of framed replies a connection sends, which knows where
// each reply ends whatever the socket took.
#include <catch2/catch.hpp>

#include "wsserver/replies.hpp"

namespace {

const std::string nul(1, '\0');

void reply(ws::Replies& out, std::string_view text) {
  out.append(text);
  out.end();
}

// Frames each reply as "<" text ">", held until it ends, as a WebSocket
// frame needs its length first.
class Bracketed : public ws::ReplyFraming {
 public:
  bool holds_replies() const override { return true; }
  void end(std::string& wire, std::string& reply) const override {
    wire.append("<").append(reply).append(">");
    reply.clear();
  }
};

}  // namespace

TEST_CASE("replies: a terminator ends each reply, parts stream onto the wire") {
  ws::TerminatedReplies framing(ws::Terminator::nul);
  ws::Replies out(framing);
  out.append("a");
  CHECK(out.wire() == "a");
  out.append("b");
  out.end();
  reply(out, "c");
  CHECK(out.wire() == "ab" + nul + "c" + nul);
}

TEST_CASE("replies: a framing that holds a reply puts it on the wire whole") {
  Bracketed framing;
  ws::Replies out(framing);
  out.append("a");
  out.reply_bytes().append("b");
  CHECK(out.empty());
  out.end();
  out.append_framed("[pong]");
  CHECK(out.wire() == "<ab>[pong]");
}

TEST_CASE("replies: dropping keeps the rest of a reply the socket has started") {
  ws::TerminatedReplies framing(ws::Terminator::lf);
  ws::Replies out(framing);
  reply(out, "first");
  reply(out, "second");
  reply(out, "third");
  out.consume(8);  // "first\nse"
  out.drop_unstarted();
  CHECK(out.wire() == "cond\n");
  out.consume(5);
  reply(out, "fourth");
  out.drop_unstarted();  // nothing of it was sent: all of it goes
  CHECK(out.empty());
  reply(out, "fifth");
  CHECK(out.wire() == "fifth\n");
}

TEST_CASE("replies: at a reply boundary dropping empties the queue") {
  ws::TerminatedReplies framing(ws::Terminator::lf);
  ws::Replies out(framing);
  reply(out, "one");
  reply(out, "two");
  out.consume(4);
  out.drop_unstarted();
  CHECK(out.empty());
  out.clear();
  reply(out, "three");
  out.consume(2);
  out.clear();
  CHECK(out.empty());
}

TEST_CASE("replies: a queue that never empties still knows where each reply ends") {
  // The ends the socket has taken are dropped in batches as the queue
  // moves on; every drop must still cut at the right reply.
  ws::TerminatedReplies framing(ws::Terminator::lf);
  ws::Replies out(framing);
  reply(out, "r0");
  int wrong_drops = 0;
  for (int i = 1; i <= 1000; ++i) {
    std::string text = "r" + std::to_string(i);
    reply(out, text);
    // The socket takes all but the terminator of the reply before this one.
    out.consume(out.size() - text.size() - 2);
    ws::Replies dropped = out;
    dropped.drop_unstarted();
    if (dropped.wire() != "\n") ++wrong_drops;
  }
  CHECK(wrong_drops == 0);
  CHECK(out.wire() == "\nr1000\n");
  out.drop_unstarted();
  CHECK(out.wire() == "\n");
  out.consume(1);
  CHECK(out.empty());
  reply(out, "next");
  out.consume(1);
  out.drop_unstarted();
  CHECK(out.wire() == "ext\n");
}
