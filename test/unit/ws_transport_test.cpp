// The WebSocket transport between the socket and the session: frames in,
// one frame per reply out, the close handshake, whatever the TCP split.
#include <catch2/catch.hpp>

#include "wsserver/service.hpp"
#include "wsserver/session.hpp"
#include "wsserver/ws_frame.hpp"
#include "wsserver/ws_transport.hpp"

namespace {

std::string masked(ws::Opcode op, std::string_view payload, bool fin = true) {
  std::string out{static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op))};
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (payload.size() < 126) out += static_cast<char>(0x80 | payload.size());
  else out += {static_cast<char>(0x80 | 126), static_cast<char>(payload.size() >> 8), static_cast<char>(payload.size() & 0xff)};
  out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) out += static_cast<char>(payload[i] ^ key[i % 4]);
  return out;
}

// The code of the close frame `wire` holds alone, or 0.
int close_code_of(const std::string& wire) {
  if (wire.size() < 4 || wire[0] != '\x88' || static_cast<size_t>(wire[1]) != wire.size() - 2) return 0;
  return static_cast<uint8_t>(wire[2]) << 8 | static_cast<uint8_t>(wire[3]);
}

struct Run {
  std::string wire;
  std::optional<ws::CloseReason> ended;
  ws::Session::Step step = ws::Session::Step::more;
};

// Feeds `stream` in pieces of `piece` bytes (0: whole) to a fresh
// transport and session of `kind`.
Run feed(const std::string& stream, size_t piece, ws::ServiceKind kind = ws::ServiceKind::strip, size_t max = 1000) {
  auto service = ws::make_service(kind, {});
  ws::Session session(*service, {max});
  ws::WebSocketTransport transport(max);
  ws::Replies out(transport);
  Run run;
  if (piece == 0) piece = stream.size();
  for (size_t at = 0; at < stream.size() && run.step == ws::Session::Step::more;) {
    std::string_view bytes = std::string_view(stream).substr(at, std::min(piece, stream.size() - at));
    while (!bytes.empty() && run.step == ws::Session::Step::more) {
      auto r = transport.receive(bytes, session, out);
      bytes.remove_prefix(r.consumed);
      run.step = r.step;
    }
    at += piece;
  }
  run.wire = out.wire();
  run.ended = transport.ended();
  return run;
}

}  // namespace

TEST_CASE("ws transport: every split of a stream of frames gives the same frames back", "[websocket]") {
  std::string stream = masked(ws::Opcode::text, "a b") + masked(ws::Opcode::text, "fr", false) +
                       masked(ws::Opcode::ping, "p") + masked(ws::Opcode::continuation, " ag") +
                       masked(ws::Opcode::binary, std::string("\x01 \xff", 3)) + masked(ws::Opcode::text, std::string(300, ' ') + "x") +
                       masked(ws::Opcode::close, std::string("\x03\xe8", 2));
  std::string expected = ws::encode_frame(ws::Opcode::text, "ab") + ws::encode_frame(ws::Opcode::pong, "p") +
                         ws::encode_frame(ws::Opcode::text, "frag") +
                         ws::encode_frame(ws::Opcode::binary, std::string("\x01\xff", 2)) +
                         ws::encode_frame(ws::Opcode::text, "x") + ws::encode_close(1000);
  for (size_t piece = 0; piece <= stream.size(); ++piece) {
    INFO("piece " << piece);
    Run r = feed(stream, piece);
    REQUIRE(r.wire == expected);
    REQUIRE(r.ended == ws::CloseReason::client_closed);
  }
}

TEST_CASE("ws transport: exit is the session's leave; the close frame is the transport's last word", "[websocket]") {
  Run r = feed(masked(ws::Opcode::text, " Exit ") + masked(ws::Opcode::text, "never read"), 0);
  CHECK(r.step == ws::Session::Step::leave);
  CHECK(r.wire.empty());
  ws::WebSocketTransport transport(100);
  ws::Replies out(transport);
  ws::Session::notice("ERR idle timeout", out);
  transport.close(ws::CloseReason::idle_timeout, out);
  transport.close(ws::CloseReason::idle_timeout, out);  // once only
  CHECK(out.wire() == ws::encode_frame(ws::Opcode::text, "ERR idle timeout") +
                          ws::encode_close(1001, "idle-timeout"));
}

TEST_CASE("ws transport: protocol errors end with their close code, and nothing after is read", "[websocket]") {
  Run unmasked = feed(std::string("\x81\x01x", 3) + masked(ws::Opcode::text, "a"), 0);
  CHECK(unmasked.ended == ws::CloseReason::protocol_error);
  CHECK(close_code_of(unmasked.wire) == 1002);
  Run bad_text = feed(masked(ws::Opcode::text, "\xc0\xaf"), 1);
  CHECK(bad_text.ended == ws::CloseReason::protocol_error);
  CHECK(close_code_of(bad_text.wire) == 1007);
  Run too_long = feed(masked(ws::Opcode::text, std::string(1001, 'x')), 0, ws::ServiceKind::strip, 1000);
  CHECK(too_long.ended == ws::CloseReason::too_long);
  CHECK(close_code_of(too_long.wire) == 1009);
}

TEST_CASE("ws transport: a reply that is not UTF-8 goes as a binary frame", "[websocket]") {
  ws::WebSocketTransport transport(100);
  ws::Replies out(transport);
  out.append("\xff\xfe");
  out.end();
  out.append("ok");
  out.end();
  CHECK(out.wire() == ws::encode_frame(ws::Opcode::binary, "\xff\xfe") + ws::encode_frame(ws::Opcode::text, "ok"));
}
