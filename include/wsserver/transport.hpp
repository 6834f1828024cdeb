// transport.hpp: the lowest layer of a connection, the bytes in and out of
// one client's socket. A client's bytes flow through one path:
//
//   connection (connection.hpp)  the socket, its waits, deadlines and end
//     transport (this file)      wire format: plain bytes, WebSocket frames;
//                                a PROXY header before either (prelude)
//       session (session.hpp)    framing at terminators, exit/quit, AUTH, limits
//         service (service.hpp)  strip, echo, chat: bytes of a message in,
//                                replies out
//
// A transport turns what the socket delivers into session input, and frames
// each reply the session and the service produce. Services write replies
// through Replies and never learn which transport carries them.
#pragma once

#include <string_view>

#include "wsserver/replies.hpp"
#include "wsserver/session.hpp"

namespace ws {

class Transport : public ReplyFraming {
 public:
  // Hands bytes from the socket to the session, whose replies and notices
  // go to `out`; what the session says (Session::Step) comes back with the
  // bytes consumed, and the caller passes the rest again.
  virtual Session::Result receive(std::string_view bytes, Session& session, Replies& out) = 0;
  // The client closed its side: a message in progress is answered.
  virtual Session::Step finish(Session& session, Replies& out) = 0;
};

// The plain transport: the socket's bytes are the session's byte stream,
// framed at terminators; each reply ends with the reply terminator.
class PlainTransport : public Transport {
 public:
  explicit PlainTransport(Terminator t) : framing_(t) {}
  bool holds_replies() const override { return false; }
  void end(std::string& wire, std::string& reply) const override { framing_.end(wire, reply); }
  Session::Result receive(std::string_view bytes, Session& session, Replies& out) override;
  Session::Step finish(Session& session, Replies& out) override;

 private:
  TerminatedReplies framing_;
};

}  // namespace ws
