// libFuzzer target: the WebSocket transport over a session (strip or echo).
// Properties, from SPEC section 10:
// - what the server sends and how the conversation ends do not depend on
//   how TCP split the bytes: the stream fed in the fuzzer's chunks and fed
//   whole gives the same result;
// - everything the server sends is a well-formed server frame (FIN set,
//   unmasked, no reserved bits, a known opcode, control frames of at most
//   125 bytes), and nothing follows a close frame;
// - memory stays bounded: the session never holds more than max_message.
//
// Input: byte 0 picks the set-up (bit 0: echo instead of strip; bits 4-7:
// max_message is 2 to that power, at least 2); byte 1 % 32 is the number of
// chunk sizes that follow (each byte + 1, used in turn); the rest is the
// stream the client sends.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/service.hpp"
#include "wsserver/session.hpp"
#include "wsserver/ws_transport.hpp"

#include "fuzz_check.hpp"

namespace {

struct Outcome {
  std::string out;
  std::optional<ws::CloseReason> ended;
  bool left = false;
  bool operator==(const Outcome&) const = default;
};

Outcome run(ws::ServiceKind kind, size_t max_message, std::string_view stream, const std::vector<size_t>& chunks) {
  auto service = ws::make_service(kind, {});
  ws::Session session(*service, {max_message});
  ws::WebSocketTransport transport(max_message);
  ws::Replies out(transport);
  Outcome o;
  size_t next = 0;
  while (!stream.empty() && !o.left && !transport.ended()) {
    size_t n = chunks.empty() ? stream.size() : std::min(stream.size(), chunks[next++ % chunks.size()]);
    std::string_view piece = stream.substr(0, n);
    stream.remove_prefix(n);
    while (!piece.empty() && !o.left) {
      auto r = transport.receive(piece, session, out);
      FUZZ_CHECK(r.consumed <= piece.size());
      piece.remove_prefix(r.consumed);
      FUZZ_CHECK(session.held_bytes() <= max_message);
      if (r.step == ws::Session::Step::leave) o.left = true;
      FUZZ_CHECK(r.consumed > 0 || o.left || r.step != ws::Session::Step::more);
      if (r.step == ws::Session::Step::unauthenticated || r.step == ws::Session::Step::auth_failed) break;
    }
  }
  o.out = out.wire();
  o.ended = transport.ended();
  return o;
}

// Every frame well-formed; a close frame, if any, is the last.
void check_frames(std::string_view wire) {
  while (!wire.empty()) {
    FUZZ_CHECK(wire.size() >= 2);
    auto b0 = static_cast<uint8_t>(wire[0]), b1 = static_cast<uint8_t>(wire[1]);
    FUZZ_CHECK((b0 & 0xf0) == 0x80);  // FIN, no reserved bits
    uint8_t op = b0 & 0x0f;
    FUZZ_CHECK(op == 1 || op == 2 || op == 8 || op == 10);
    FUZZ_CHECK((b1 & 0x80) == 0);
    uint64_t length = b1 & 0x7f;
    size_t header = 2;
    if (length >= 126) {
      size_t bytes = length == 126 ? 2 : 8;
      FUZZ_CHECK(wire.size() >= 2 + bytes);
      length = 0;
      for (size_t i = 0; i < bytes; ++i) length = length << 8 | static_cast<uint8_t>(wire[2 + i]);
      header += bytes;
    }
    if (op & 0x8) FUZZ_CHECK(length <= 125);
    FUZZ_CHECK(wire.size() >= header + length);
    wire.remove_prefix(header + length);
    if (op == 8) FUZZ_CHECK(wire.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ws::ServiceKind kind = data[0] & 1 ? ws::ServiceKind::echo : ws::ServiceKind::strip;
  size_t max_message = size_t{1} << std::max(1, data[0] >> 4);
  size_t count = data[1] % 32;
  if (size < 2 + count) return 0;
  std::vector<size_t> chunks;
  for (size_t i = 0; i < count; ++i) chunks.push_back(size_t{data[2 + i]} + 1);
  std::string_view stream(reinterpret_cast<const char*>(data) + 2 + count, size - 2 - count);
  Outcome whole = run(kind, max_message, stream, {});
  FUZZ_CHECK(run(kind, max_message, stream, chunks) == whole);
  check_frames(whole.out);
  return 0;
}
