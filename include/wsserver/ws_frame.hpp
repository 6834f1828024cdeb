// ws_frame.hpp: WebSocket frames (RFC 6455 section 5) as SPEC section 10
// uses them: a decoder for what a client sends, fed bytes as they arrive
// and handing out one event at a time, and an encoder for what the server
// sends.
//
// The decoder hands out each text or binary message whole, its fragments
// joined, so memory stays within max_message plus one control frame (125
// bytes); a message that would pass max_message is refused as soon as a
// frame header announces it, before its payload is read. Text is checked
// for UTF-8 byte by byte across fragments, so invalid text fails at its
// first wrong byte (RFC 6455 section 8.1 asks to fail fast).
//
// Any violation ends decoding with the close code to send (section 7.4.1):
// 1002 for a protocol error (unmasked frame, reserved bits or opcodes,
// fragmented or long control frame, continuation without a message, a new
// data frame inside a fragmented message, a 64-bit length with its high bit
// set, a close payload of 1 byte or an invalid close code), 1007 for text or
// a close reason that is not UTF-8, 1009 for a message over max_message.
// Lengths need not use their shortest encoding: section 5.2 asks it of the
// sender, and refusing it protects nothing. Close codes accepted: 1000-1003,
// 1007-1014 (1012-1014 are in IANA's registry since) and 3000-4999.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/utf8.hpp"

namespace ws {

enum class Opcode : uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xa };

namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t no_status = 1005;  // received a close without a code; never sent
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t too_big = 1009;
}  // namespace close_code

struct FrameEvent {
  Opcode kind = Opcode::close;  // text, binary, ping, pong or close
  std::string payload;          // the message, the ping's or pong's data, the close's reason
  uint16_t code = 0;            // close: its code, close_code::no_status when it had none
};

class FrameDecoder {
 public:
  enum class Status { need_more, event, closed, error };

  explicit FrameDecoder(size_t max_message) : max_message_(max_message) {}

  // Takes bytes that follow those fed before; returns how many it used. It
  // stops right after the byte that completes an event or fails, and takes
  // nothing while an event waits, after a close or after an error: what it
  // did not take is the caller's to feed again.
  size_t feed(std::string_view bytes);

  Status status() const { return status_; }
  // When event.
  const FrameEvent& event() const { return event_; }
  // Drops the waiting event and goes on; after a close event, the status is
  // closed: nothing follows a close (section 5.5.1).
  void next();
  // When error: the close code to send, and why in a few words, for the log.
  uint16_t error_code() const { return error_code_; }
  std::string_view reason() const { return reason_; }

 private:
  bool is_control() const { return opcode_ & 0x8; }
  void take_header(uint8_t byte);
  void check_first_byte(uint8_t byte);
  void check_second_byte(uint8_t byte);
  void check_length();
  void start_payload();
  size_t take_payload(std::string_view chunk);
  void end_frame();
  void end_message();
  void end_close();
  void emit(Opcode kind, std::string payload, uint16_t code = 0);
  void fail(uint16_t code, const char* why);

  size_t max_message_;
  Status status_ = Status::need_more;
  FrameEvent event_;
  uint16_t error_code_ = 0;
  const char* reason_ = "";

  // The frame being read: its header (2 to 14 bytes), then its payload.
  std::array<uint8_t, 14> header_{};
  size_t header_seen_ = 0, header_size_ = 2;
  bool fin_ = false;
  uint8_t opcode_ = 0;
  uint64_t length_ = 0, payload_seen_ = 0;
  std::array<uint8_t, 4> mask_{};

  // The message its data frames add to, while one is open.
  bool message_open_ = false;
  Opcode message_kind_ = Opcode::text;
  std::string message_;
  Utf8Validator utf8_;
  std::string control_;  // a control frame's payload
};

// A server frame: FIN set, unmasked. A control frame's payload is cut to
// 125 bytes, so no frame written here is invalid.
std::string encode_frame(Opcode opcode, std::string_view payload);
// A close frame: no payload for close_code::no_status (to echo a close that
// had none), otherwise the code and the reason, cut at a character's end
// to fit 125 bytes.
std::string encode_close(uint16_t code, std::string_view reason = {});

bool valid_close_code(uint16_t code);

}  // namespace ws
