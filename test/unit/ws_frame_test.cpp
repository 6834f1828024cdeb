// WebSocket frames (RFC 6455 section 5, SPEC section 10): the examples of
// section 5.7, every byte split of each valid stream, each protocol error
// with its close code, and the server's encoder.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "wsserver/ws_frame.hpp"

namespace {

using Status = ws::FrameDecoder::Status;
using ws::Opcode;

constexpr size_t big_limit = 1 << 20;

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s += static_cast<char>(b);
  return s;
}

// A client frame, built here rather than by the code under test: the first
// byte as given, the mask bit, the shortest length (or the 8-byte form when
// `long_form`), the RFC's mask and the payload masked with it.
std::string client_frame(int first, const std::string& payload, bool long_form = false) {
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint64_t n = payload.size();
  std::string s(1, static_cast<char>(first));
  if (n < 126 && !long_form) s += static_cast<char>(0x80 | n);
  else if (n <= 0xffff && !long_form) s += bytes({0x80 | 126, static_cast<int>(n >> 8), static_cast<int>(n & 0xff)});
  else {
    s += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) s += static_cast<char>(n >> (8 * i));
  }
  s += std::string(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < n; ++i) s += static_cast<char>(payload[i] ^ mask[i % 4]);
  return s;
}

std::string text(const std::string& payload) { return client_frame(0x81, payload); }
std::string close_payload(int code, const std::string& reason = "") {
  return bytes({code >> 8, code & 0xff}) + reason;
}

struct Run {
  std::vector<ws::FrameEvent> events;
  Status status = Status::need_more;
  uint16_t error = 0;
  std::string reason;
  size_t consumed = 0;
};

// Feeds a piece as a caller would: takes each event as it comes and feeds
// the rest again, until the decoder stops taking.
void feed_piece(ws::FrameDecoder& d, std::string_view piece, Run& r) {
  for (;;) {
    size_t used = d.feed(piece);
    r.consumed += used;
    piece.remove_prefix(used);
    if (d.status() != Status::event) break;
    r.events.push_back(d.event());
    d.next();
  }
  r.status = d.status();
  r.error = d.error_code();
  r.reason = std::string(d.reason());
}

Run decode_split(std::string_view stream, size_t at, size_t max_message = big_limit) {
  ws::FrameDecoder d(max_message);
  Run r;
  feed_piece(d, stream.substr(0, at), r);
  feed_piece(d, stream.substr(at), r);
  return r;
}

Run decode(std::string_view stream, size_t max_message = big_limit) {
  return decode_split(stream, stream.size(), max_message);
}

bool same_events(const std::vector<ws::FrameEvent>& a, const std::vector<ws::FrameEvent>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].payload != b[i].payload || a[i].code != b[i].code) return false;
  return true;
}

bool same(const Run& a, const Run& b) {
  return same_events(a.events, b.events) && a.status == b.status && a.error == b.error && a.reason == b.reason &&
         a.consumed == b.consumed;
}

// Split in two at every point `step` apart (and at each of the first and
// last 20), and fed one byte at a time: the same events, status and bytes
// taken as fed whole. Returns the first failure.
std::string split_failure(const std::string& stream, size_t max_message = big_limit, size_t step = 1) {
  Run whole = decode(stream, max_message);
  for (size_t i = 0; i <= stream.size(); ++i) {
    if (i % step != 0 && i > 20 && i + 20 < stream.size()) continue;
    if (!same(decode_split(stream, i, max_message), whole)) return "split at " + std::to_string(i);
  }
  ws::FrameDecoder d(max_message);
  Run bytewise;
  for (char c : stream) feed_piece(d, std::string_view(&c, 1), bytewise);
  bytewise.consumed = std::min(bytewise.consumed, stream.size());
  if (!same(bytewise, whole)) return "one byte at a time";
  return "";
}

ws::FrameEvent event(Opcode kind, const std::string& payload, uint16_t code = 0) { return {kind, payload, code}; }

void check_events(const std::string& stream, const std::vector<ws::FrameEvent>& expected,
                  size_t max_message = big_limit, size_t step = 1) {
  CHECK(split_failure(stream, max_message, step) == "");
  Run r = decode(stream, max_message);
  bool closed = !expected.empty() && expected.back().kind == Opcode::close;
  CHECK(r.status == (closed ? Status::closed : Status::need_more));
  CHECK(r.consumed == stream.size());
  CHECK(same_events(r.events, expected));
}

// Refused with `code`, however split, after any events before the error.
void check_error(const std::string& stream, uint16_t code, const std::string& reason, size_t max_message = big_limit) {
  CHECK(split_failure(stream + "more bytes", max_message) == "");
  Run r = decode(stream + "more bytes", max_message);
  CHECK(r.status == Status::error);
  CHECK(r.error == code);
  CHECK_THAT(r.reason, Catch::Contains(reason));
  CHECK(r.consumed <= stream.size());
}

}  // namespace

TEST_CASE("ws frame: RFC 6455 5.7, a masked text frame", "[websocket]") {
  std::string hello = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  REQUIRE(hello == text("Hello"));
  check_events(hello, {event(Opcode::text, "Hello")});
}

TEST_CASE("ws frame: RFC 6455 5.7, the unmasked text frame is refused from a client", "[websocket]") {
  check_error(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), 1002, "unmasked");
  CHECK(decode(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})).consumed == 2);
}

TEST_CASE("ws frame: RFC 6455 5.7, a fragmented text message", "[websocket]") {
  // The RFC's frames 0x01 "Hel" and 0x80 "lo", masked as a client sends them.
  check_events(client_frame(0x01, "Hel") + client_frame(0x80, "lo"), {event(Opcode::text, "Hello")});
}

TEST_CASE("ws frame: RFC 6455 5.7, ping and a masked pong", "[websocket]") {
  check_events(client_frame(0x89, "Hello"), {event(Opcode::ping, "Hello")});
  std::string pong = bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  check_events(pong, {event(Opcode::pong, "Hello")});
}

TEST_CASE("ws frame: RFC 6455 5.7, 256-byte and 64 KiB binary lengths", "[websocket]") {
  std::string b256, b64k;
  for (int i = 0; i < 256; ++i) b256 += static_cast<char>(i);
  for (int i = 0; i < 65536; ++i) b64k += static_cast<char>(i * 7);
  std::string f256 = client_frame(0x82, b256), f64k = client_frame(0x82, b64k);
  REQUIRE(f256.substr(0, 4) == bytes({0x82, 0xfe, 0x01, 0x00}));
  REQUIRE(f64k.substr(0, 10) == bytes({0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}));
  check_events(f256, {event(Opcode::binary, b256)});
  check_events(f64k, {event(Opcode::binary, b64k)}, big_limit, 4099);
  // A length need not use its shortest form.
  check_events(client_frame(0x82, "abc", true), {event(Opcode::binary, "abc")});
}

TEST_CASE("ws frame: a stream of messages, empty ones and control frames between fragments", "[websocket]") {
  std::string stream = text("") + client_frame(0x82, "") + client_frame(0x01, "He") + client_frame(0x89, "") +
                       client_frame(0x00, "l") + client_frame(0x8a, "p") + client_frame(0x80, "lo") +
                       client_frame(0x02, "\xff") + client_frame(0x80, "");
  check_events(stream, {event(Opcode::text, ""), event(Opcode::binary, ""), event(Opcode::ping, ""),
                        event(Opcode::pong, "p"), event(Opcode::text, "Hello"), event(Opcode::binary, "\xff")});
}

TEST_CASE("ws frame: UTF-8 split across fragments is valid", "[websocket]") {
  // κ (CE BA) and U+10348 (F0 90 8D 88) cut inside their bytes.
  check_events(client_frame(0x01, "\xce") + client_frame(0x00, "\xba\xf0\x90") + client_frame(0x80, "\x8d\x88"),
               {event(Opcode::text, "\xce\xba\xf0\x90\x8d\x88")});
}

TEST_CASE("ws frame: a close ends decoding; its code and reason are read", "[websocket]") {
  std::string stream = text("a") + client_frame(0x88, close_payload(1000, "bye")) + text("after");
  Run r = decode(stream);
  CHECK(split_failure(stream) == "");
  CHECK(r.status == Status::closed);
  CHECK(same_events(r.events, {event(Opcode::text, "a"), event(Opcode::close, "bye", 1000)}));
  CHECK(r.consumed == stream.size() - text("after").size());
  check_events(client_frame(0x88, ""), {event(Opcode::close, "", ws::close_code::no_status)});
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999})
    check_events(client_frame(0x88, close_payload(code, "κ")), {event(Opcode::close, "κ", code)});
}

TEST_CASE("ws frame: reserved bits and opcodes are 1002", "[websocket]") {
  for (int rsv : {0x40, 0x20, 0x10, 0x70}) check_error(client_frame(0x81 | rsv, "x"), 1002, "reserved bits");
  for (int op : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf}) check_error(client_frame(0x80 | op, "x"), 1002, "opcode");
  CHECK(decode(client_frame(0xc1, "x")).consumed == 1);
}

TEST_CASE("ws frame: fragmented or long control frames are 1002", "[websocket]") {
  for (int op : {0x08, 0x09, 0x0a}) check_error(client_frame(op, "x"), 1002, "fragmented control");
  for (int op : {0x88, 0x89, 0x8a}) {
    check_error(client_frame(op, close_payload(1000, std::string(124, 'x'))), 1002, "over 125");
    check_error(client_frame(op, std::string(125, 'x'), true), 1002, "over 125");
  }
  check_events(client_frame(0x89, std::string(125, 'x')), {event(Opcode::ping, std::string(125, 'x'))});
}

TEST_CASE("ws frame: continuation without a start, or a new message inside one, is 1002", "[websocket]") {
  check_error(client_frame(0x80, "x"), 1002, "continuation without");
  check_error(client_frame(0x00, "x"), 1002, "continuation without");
  check_error(text("a") + client_frame(0x80, "x"), 1002, "continuation without");
  check_error(client_frame(0x01, "a") + text("b"), 1002, "new message inside");
  check_error(client_frame(0x01, "a") + client_frame(0x82, "b"), 1002, "new message inside");
  check_error(client_frame(0x02, "a") + client_frame(0x89, "") + client_frame(0x01, "b"), 1002, "new message inside");
}

TEST_CASE("ws frame: a 64-bit length with its high bit set is 1002", "[websocket]") {
  check_error(bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}), 1002, "high bit");
  check_error(bytes({0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 1002, "high bit");
}

TEST_CASE("ws frame: a message over max_message is 1009 before its payload", "[websocket]") {
  check_events(text("0123456789"), {event(Opcode::text, "0123456789")}, 10);
  check_events(client_frame(0x01, "01234") + client_frame(0x80, "56789"), {event(Opcode::text, "0123456789")}, 10);
  check_error(text("0123456789a"), 1009, "max_message", 10);
  check_error(client_frame(0x01, "012345") + client_frame(0x80, "67890"), 1009, "max_message", 10);
  // The header alone is enough: a 1 GiB frame is refused unread.
  std::string huge = bytes({0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4});
  check_error(huge, 1009, "max_message", 1 << 20);
  CHECK(decode(huge, 1 << 20).consumed == 10);
  // Control frames do not count toward the message.
  check_events(client_frame(0x01, "01234") + client_frame(0x89, std::string(100, 'p')) + client_frame(0x80, "56789"),
               {event(Opcode::ping, std::string(100, 'p')), event(Opcode::text, "0123456789")}, 10);
}

TEST_CASE("ws frame: invalid UTF-8 text is 1007 at its first bad byte, across fragments", "[websocket]") {
  check_error(text("ok\xc0\xaf"), 1007, "UTF-8");
  check_error(text("\xed\xa0\x80"), 1007, "UTF-8");
  check_error(text("\xf4\x90\x80\x80"), 1007, "UTF-8");
  check_error(client_frame(0x01, "ab\xed") + client_frame(0x80, "\xa0\x80"), 1007, "UTF-8");
  check_error(client_frame(0x01, "\xce") + client_frame(0x89, "") + client_frame(0x80, "a"), 1007, "UTF-8");
  check_error(text("abc\xce"), 1007, "inside a character");
  check_error(client_frame(0x01, "\xf0\x90") + client_frame(0x80, "\x8d"), 1007, "inside a character");
  // Fails fast: the bytes after the bad one are not taken.
  std::string bad = text("a\xff" + std::string(50, 'b'));
  CHECK(decode(bad).consumed == 6 + 2);
  // Binary is not checked.
  check_events(client_frame(0x82, "\xc0\xaf"), {event(Opcode::binary, "\xc0\xaf")});
}

TEST_CASE("ws frame: bad close payloads: 1 byte or a bad code is 1002, a bad reason 1007", "[websocket]") {
  check_error(client_frame(0x88, "\x03"), 1002, "1 byte");
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535})
    check_error(client_frame(0x88, close_payload(code)), 1002, "invalid close code");
  check_error(client_frame(0x88, close_payload(1000, "\xce")), 1007, "close reason");
  check_error(client_frame(0x88, close_payload(1000, "a\xed\xa0\x80")), 1007, "close reason");
}

TEST_CASE("ws frame: the decoder takes nothing once it failed", "[websocket]") {
  ws::FrameDecoder d(100);
  CHECK(d.feed(bytes({0x81, 0x05})) == 2);
  CHECK(d.status() == Status::error);
  CHECK(d.error_code() == 1002);
  CHECK(d.feed("anything") == 0);
}

TEST_CASE("ws frame: the encoder writes the RFC 6455 5.7 server frames", "[websocket]") {
  CHECK(ws::encode_frame(Opcode::text, "Hello") == bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  CHECK(ws::encode_frame(Opcode::ping, "Hello") == bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  CHECK(ws::encode_frame(Opcode::pong, "Hello") == bytes({0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  std::string b256(256, 'x'), b64k(65536, 'y'), b125(125, 'z'), b126(126, 'z');
  CHECK(ws::encode_frame(Opcode::binary, b256) == bytes({0x82, 0x7e, 0x01, 0x00}) + b256);
  CHECK(ws::encode_frame(Opcode::binary, b64k) == bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}) + b64k);
  CHECK(ws::encode_frame(Opcode::binary, b125) == bytes({0x82, 125}) + b125);
  CHECK(ws::encode_frame(Opcode::binary, b126) == bytes({0x82, 126, 0, 126}) + b126);
  CHECK(ws::encode_frame(Opcode::binary, std::string(65535, 'w')).substr(0, 4) == bytes({0x82, 126, 0xff, 0xff}));
  CHECK(ws::encode_frame(Opcode::pong, std::string(200, 'p')) == bytes({0x8a, 125}) + std::string(125, 'p'));
}

TEST_CASE("ws frame: close frames carry their code; a long reason is cut at a character", "[websocket]") {
  CHECK(ws::encode_close(1000) == bytes({0x88, 0x02, 0x03, 0xe8}));
  CHECK(ws::encode_close(1001, "bye") == bytes({0x88, 0x05, 0x03, 0xe9}) + "bye");
  CHECK(ws::encode_close(ws::close_code::no_status) == bytes({0x88, 0x00}));
  std::string reason;
  for (int i = 0; i < 70; ++i) reason += "é";  // 140 bytes
  std::string frame = ws::encode_close(1009, reason);
  REQUIRE(frame.size() == 2 + 2 + 122);
  CHECK(static_cast<uint8_t>(frame[1]) == 124);
  CHECK(ws::valid_utf8(frame.substr(4)));
  CHECK(ws::encode_close(1000, std::string(200, 'r')).size() == 2 + 125);
}
