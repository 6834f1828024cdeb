#include "wsserver/ws_frame.hpp"

#include <algorithm>
#include <utility>

namespace ws {
namespace {

constexpr size_t max_control_payload = 125;

bool known_opcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xa); }

// The extended length's size, from the 7-bit length.
size_t extended_size(uint8_t length7) { return length7 == 126 ? 2 : length7 == 127 ? 8 : 0; }

}  // namespace

bool valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

size_t FrameDecoder::feed(std::string_view bytes) {
  size_t used = 0;
  while (used < bytes.size() && status_ == Status::need_more) {
    if (header_seen_ < header_size_) {
      take_header(static_cast<uint8_t>(bytes[used++]));
    } else {
      size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size() - used, length_ - payload_seen_));
      used += take_payload(bytes.substr(used, n));
    }
  }
  return used;
}

void FrameDecoder::next() {
  if (status_ != Status::event) return;
  status_ = event_.kind == Opcode::close ? Status::closed : Status::need_more;
  event_ = FrameEvent{};
}

void FrameDecoder::fail(uint16_t code, const char* why) {
  status_ = Status::error;
  error_code_ = code;
  reason_ = why;
}

void FrameDecoder::emit(Opcode kind, std::string payload, uint16_t code) {
  event_ = FrameEvent{kind, std::move(payload), code};
  status_ = Status::event;
}

// Each check runs as soon as the byte it needs is in, so a bad frame is
// refused before its payload arrives.
void FrameDecoder::take_header(uint8_t byte) {
  size_t at = header_seen_++;
  header_[at] = byte;
  if (at == 0) check_first_byte(byte);
  else if (at == 1) check_second_byte(byte);
  if (status_ != Status::need_more) return;
  if (header_seen_ == header_size_ - 4 && at >= 1) check_length();
  if (status_ == Status::need_more && header_seen_ == header_size_) start_payload();
}

void FrameDecoder::check_first_byte(uint8_t byte) {
  fin_ = byte & 0x80;
  opcode_ = byte & 0x0f;
  if (byte & 0x70) fail(close_code::protocol_error, "reserved bits set");
  else if (!known_opcode(opcode_)) fail(close_code::protocol_error, "unknown opcode");
  else if (is_control() && !fin_) fail(close_code::protocol_error, "fragmented control frame");
  else if (is_control()) return;
  else if (opcode_ == 0 && !message_open_) fail(close_code::protocol_error, "continuation without a message");
  else if (opcode_ != 0 && message_open_) fail(close_code::protocol_error, "new message inside a fragmented one");
}

void FrameDecoder::check_second_byte(uint8_t byte) {
  uint8_t length7 = byte & 0x7f;
  if (!(byte & 0x80)) fail(close_code::protocol_error, "unmasked client frame");
  else if (is_control() && length7 > max_control_payload) fail(close_code::protocol_error, "control frame over 125 bytes");
  header_size_ = 2 + extended_size(length7) + 4;
}

void FrameDecoder::check_length() {
  uint8_t length7 = header_[1] & 0x7f;
  size_t extended = extended_size(length7);
  length_ = extended == 0 ? length7 : 0;
  for (size_t i = 0; i < extended; ++i) length_ = length_ << 8 | header_[2 + i];
  if (length_ >> 63) fail(close_code::protocol_error, "64-bit length with its high bit set");
  else if (!is_control() && length_ > max_message_ - message_.size())
    fail(close_code::too_big, "message over max_message");
}

void FrameDecoder::start_payload() {
  std::copy_n(header_.begin() + header_size_ - 4, 4, mask_.begin());
  payload_seen_ = 0;
  control_.clear();
  if (opcode_ == static_cast<uint8_t>(Opcode::text) || opcode_ == static_cast<uint8_t>(Opcode::binary)) {
    message_open_ = true;
    message_kind_ = static_cast<Opcode>(opcode_);
    utf8_ = Utf8Validator{};
  }
  if (length_ == 0) end_frame();
}

// Stops at the first byte that makes text invalid.
size_t FrameDecoder::take_payload(std::string_view chunk) {
  std::string& to = is_control() ? control_ : message_;
  bool text = !is_control() && message_kind_ == Opcode::text;
  for (size_t i = 0; i < chunk.size(); ++i) {
    auto byte = static_cast<uint8_t>(static_cast<uint8_t>(chunk[i]) ^ mask_[payload_seen_++ % 4]);
    to += static_cast<char>(byte);
    if (text && !utf8_.feed(byte)) {
      fail(close_code::invalid_payload, "text not UTF-8");
      return i + 1;
    }
  }
  if (payload_seen_ == length_) end_frame();
  return chunk.size();
}

void FrameDecoder::end_frame() {
  header_seen_ = 0;
  header_size_ = 2;
  if (opcode_ == static_cast<uint8_t>(Opcode::close)) end_close();
  else if (is_control()) emit(static_cast<Opcode>(opcode_), std::move(control_));
  else if (fin_) end_message();
}

void FrameDecoder::end_message() {
  if (message_kind_ == Opcode::text && !utf8_.complete())
    return fail(close_code::invalid_payload, "text ends inside a character");
  message_open_ = false;
  emit(message_kind_, std::exchange(message_, std::string{}));
}

void FrameDecoder::end_close() {
  if (control_.empty()) return emit(Opcode::close, "", close_code::no_status);
  if (control_.size() == 1) return fail(close_code::protocol_error, "close payload of 1 byte");
  auto code = static_cast<uint16_t>(static_cast<uint8_t>(control_[0]) << 8 | static_cast<uint8_t>(control_[1]));
  if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
  std::string reason = control_.substr(2);
  if (!valid_utf8(reason)) return fail(close_code::invalid_payload, "close reason not UTF-8");
  emit(Opcode::close, std::move(reason), code);
}

std::string encode_frame(Opcode opcode, std::string_view payload) {
  auto op = static_cast<uint8_t>(opcode);
  if (op & 0x8) payload = payload.substr(0, max_control_payload);
  std::string out(1, static_cast<char>(0x80 | op));
  uint64_t n = payload.size();
  size_t extended = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  out += static_cast<char>(extended == 0 ? n : extended == 2 ? 126 : 127);
  for (size_t i = extended; i > 0; --i) out += static_cast<char>(n >> (8 * (i - 1)));
  out += payload;
  return out;
}

// A cut must not split a character: the reason must stay UTF-8.
std::string encode_close(uint16_t code, std::string_view reason) {
  if (code == close_code::no_status) return encode_frame(Opcode::close, "");
  size_t n = std::min(reason.size(), max_control_payload - 2);
  while (n > 0 && n < reason.size() && (static_cast<uint8_t>(reason[n]) & 0xc0) == 0x80) --n;
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return encode_frame(Opcode::close, payload + std::string(reason.substr(0, n)));
}

}  // namespace ws
