// libFuzzer target: the WebSocket frame decoder and encoder (SPEC section
// 10, RFC 6455 section 5). Properties:
// - it never takes more than it is given, and takes all of it while it
//   needs more: nothing is lost between feeds;
// - the result does not depend on how the bytes were split: fed whole, in
//   the fuzzer's chunks or one byte at a time, the same events, status,
//   close code, reason and bytes taken;
// - what it hands out is bounded and valid: messages within max_message,
//   control payloads within 125 bytes, text and close reasons UTF-8, close
//   codes valid (or 1005 for none), errors 1002, 1007 or 1009 with a reason;
// - each event, written by the server's encoder and masked with a zero
//   mask, decodes to itself.
//
// Input: byte 0 % 32 + 1 is the chunk size, byte 1 * 4 is max_message; the
// rest is what the client sent.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/utf8.hpp"
#include "wsserver/ws_frame.hpp"

#include "fuzz_check.hpp"

namespace {

using Status = ws::FrameDecoder::Status;
using ws::Opcode;

struct Outcome {
  std::vector<ws::FrameEvent> events;
  Status status = Status::need_more;
  uint16_t error = 0;
  std::string reason;
  size_t taken = 0;
};

Outcome in_chunks(std::string_view stream, size_t chunk, size_t max_message) {
  ws::FrameDecoder d(max_message);
  Outcome out;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    std::string_view piece = stream.substr(at, std::min(chunk, stream.size() - at));
    for (;;) {
      size_t used = d.feed(piece);
      FUZZ_CHECK(used <= piece.size());
      FUZZ_CHECK(used == piece.size() || d.status() != Status::need_more);
      out.taken += used;
      piece.remove_prefix(used);
      if (d.status() != Status::event) break;
      out.events.push_back(d.event());
      d.next();
    }
  }
  out.status = d.status();
  out.error = d.error_code();
  out.reason = std::string(d.reason());
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.status != b.status || a.error != b.error || a.reason != b.reason || a.taken != b.taken) return false;
  if (a.events.size() != b.events.size()) return false;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ws::FrameEvent &x = a.events[i], &y = b.events[i];
    if (x.kind != y.kind || x.payload != y.payload || x.code != y.code) return false;
  }
  return true;
}

// A server frame made a client's: the mask bit and a zero mask, which
// leaves the payload as it is.
std::string as_client(const std::string& frame) {
  uint8_t length7 = static_cast<uint8_t>(frame[1]) & 0x7f;
  size_t header = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0);
  std::string out = frame.substr(0, header);
  out[1] = static_cast<char>(out[1] | 0x80);
  return out + std::string(4, '\0') + frame.substr(header);
}

std::string encoded(const ws::FrameEvent& e) {
  if (e.kind == Opcode::close) return ws::encode_close(e.code, e.payload);
  return ws::encode_frame(e.kind, e.payload);
}

void check_event(const ws::FrameEvent& e, size_t max_message) {
  bool control = static_cast<uint8_t>(e.kind) & 0x8;
  FUZZ_CHECK(e.payload.size() <= (control ? 125 : max_message));
  if (e.kind == Opcode::text) FUZZ_CHECK(ws::valid_utf8(e.payload));
  if (e.kind == Opcode::close) {
    FUZZ_CHECK(ws::valid_utf8(e.payload));
    FUZZ_CHECK(ws::valid_close_code(e.code) || (e.code == ws::close_code::no_status && e.payload.empty()));
  }
  Outcome again = in_chunks(as_client(encoded(e)), 1 << 20, max_message);
  FUZZ_CHECK(again.events.size() == 1);
  FUZZ_CHECK(again.events[0].kind == e.kind && again.events[0].payload == e.payload && again.events[0].code == e.code);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = data[0] % 32 + 1;
  size_t max_message = size_t{data[1]} * 4;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  Outcome whole = in_chunks(stream, std::max<size_t>(stream.size(), 1), max_message);
  FUZZ_CHECK(whole.taken <= stream.size());
  FUZZ_CHECK(whole.status != Status::need_more || whole.taken == stream.size());
  FUZZ_CHECK(whole.status != Status::event);
  FUZZ_CHECK((whole.status == Status::error) == !whole.reason.empty());
  if (whole.status == Status::error) FUZZ_CHECK(whole.error == 1002 || whole.error == 1007 || whole.error == 1009);
  FUZZ_CHECK((whole.status == Status::closed) == (!whole.events.empty() && whole.events.back().kind == Opcode::close));
  FUZZ_CHECK(same(in_chunks(stream, chunk, max_message), whole));
  FUZZ_CHECK(same(in_chunks(stream, 1, max_message), whole));
  for (const auto& e : whole.events) check_event(e, max_message);
  return 0;
}
