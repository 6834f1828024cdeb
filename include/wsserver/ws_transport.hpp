// ws_transport.hpp: the WebSocket transport of a ws: listener (SPEC section
// 10, RFC 6455), beside the plain one (transport.hpp): the opening
// handshake on the socket, then frames in (each text or binary message,
// whole, is one session message; pings get pongs) and frames out (each
// reply one frame), and the close handshake both ways.
//
// Choices where the texts leave room:
// - A reply is a text frame, binary when it answers a binary message. A
//   reply or chat delivery that is not valid UTF-8 (a plain client's bytes
//   relayed by chat) goes as binary too: a browser must fail a connection
//   on invalid text.
// - max_message bounds every message, for every service (strip too, which
//   streams over plain TCP): a frame announcing more closes with 1009
//   before its payload is read.
// - The request must arrive whole within 10 s, or idle_timeout if shorter;
//   otherwise the connection is closed without an answer. The page and
//   every refusal are answered, then the connection is closed
//   (Connection: close; no keep-alive).
// - Close codes the server sends: 1000 for exit and quit; 1001 when it
//   goes away (stop, idle, auth or message too slow, a chat client too
//   slow); 1008 (policy) for failed or missing authentication; 1002, 1007,
//   1009 for the client's errors. Its reason is the access log's word.
//   A client's close is answered with its own code, an empty close with an
//   empty one; then the server closes TCP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wsserver/connection.hpp"
#include "wsserver/transport.hpp"
#include "wsserver/ws_frame.hpp"

namespace ws {

class WebSocketTransport : public Transport {
 public:
  explicit WebSocketTransport(size_t max_message) : decoder_(max_message) {}
  bool holds_replies() const override { return true; }
  void end(std::string& wire, std::string& reply) const override;
  Session::Result receive(std::string_view bytes, Session& session, Replies& out) override;
  // Messages arrive whole: a TCP close leaves nothing to answer.
  Session::Step finish(Session&, Replies&) override { return Session::Step::more; }
  void close(CloseReason reason, Replies& out) override;
  std::optional<CloseReason> ended() const override { return ended_; }

 private:
  Session::Step on_event(const FrameEvent& event, Session& session, Replies& out);
  void send_close(uint16_t code, std::string_view why, Replies& out);

  FrameDecoder decoder_;
  bool binary_ = false;     // the message being answered was binary
  bool close_sent_ = false;
  std::optional<CloseReason> ended_;
};

// The opening handshake of a client of a ws: listener, after admission:
// nullopt once it is upgraded (101 sent), with what the client sent behind
// its request in *first_frames. Otherwise the request was answered (the
// page, a refusal) or never came, the socket is closed, and the reason
// (CloseReason::handshake, or shutdown) comes back.
std::optional<CloseReason> open_websocket(int fd, const ConnectionContext& c, ConnectionTotals* totals,
                                          std::string* first_frames);

}  // namespace ws
