#include "ws_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <random>

namespace test {

using Clock = std::chrono::steady_clock;

uint16_t WsFrame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<uint16_t>(static_cast<uint8_t>(payload[0]) << 8 | static_cast<uint8_t>(payload[1]));
}

std::string ws_request(const std::string& path, const std::string& extra, const std::string& key,
                       const std::string& version) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
         "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n" + extra + "\r\n";
}

namespace {

void put_length(std::string& out, uint64_t length, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>(length >> (8 * i) & 0xff);
}

}  // namespace

std::string ws_frame_bytes(uint8_t opcode, std::string_view payload, bool fin, bool mask, uint8_t rsv,
                           int length_bytes) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | (rsv & 0x7) << 4 | (opcode & 0xf));
  uint8_t mask_bit = mask ? 0x80 : 0;
  if (length_bytes == 0) length_bytes = payload.size() < 126 ? 0 : payload.size() < 65536 ? 2 : 8;
  if (length_bytes == 0) out += static_cast<char>(mask_bit | payload.size());
  else out += static_cast<char>(mask_bit | (length_bytes == 2 ? 126 : 127));
  put_length(out, payload.size(), length_bytes);
  static std::mt19937 random(12345);
  uint8_t key[4] = {0, 0, 0, 0};
  if (mask) {
    for (auto& k : key) k = static_cast<uint8_t>(random());
    out.append(reinterpret_cast<char*>(key), 4);
  }
  for (size_t i = 0; i < payload.size(); ++i) out += static_cast<char>(payload[i] ^ key[i % 4]);
  return out;
}

std::string ws_close_bytes(uint16_t code, std::string_view reason) {
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  payload += reason;
  return ws_frame_bytes(wsop::close, payload);
}

std::optional<WsClient> WsClient::open(uint16_t port, std::string* why, const std::string& extra) {
  WsClient c = raw(port, ws_request("/", extra));
  auto answer = c.http_answer();
  if (answer && answer->status == 101 && answer->header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    return c;
  if (why) *why = answer ? answer->head : "no answer: " + c.error_;
  return std::nullopt;
}

WsClient WsClient::raw(uint16_t port, std::string_view request) {
  WsClient c(Client::connect(port));
  c.send_raw(request);
  return c;
}

bool WsClient::send_bytewise(std::string_view bytes) {
  for (char b : bytes)
    if (!send_raw({&b, 1})) return false;
  return true;
}

std::string WsClient::HttpAnswer::header(const std::string& name) const {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t at = lower.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t start = head.find_first_not_of(" \t", at + name.size() + 2);
  return head.substr(start, head.find('\r', start) - start);
}

bool WsClient::fill(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pollfd p{client_.fd(), POLLIN, 0};
  if (left < 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return error_ = "timed out", false;
  char buf[65536];
  ssize_t n = recv(client_.fd(), buf, sizeof buf, 0);
  if (n <= 0) return error_ = n == 0 ? "connection closed" : "connection reset", false;
  pending_.append(buf, static_cast<size_t>(n));
  return true;
}

bool WsClient::need(size_t bytes, Clock::time_point deadline) {
  while (pending_.size() < bytes)
    if (!fill(deadline)) return false;
  return true;
}

std::optional<WsClient::HttpAnswer> WsClient::http_answer(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline)) return std::nullopt;
  HttpAnswer a;
  a.head = pending_.substr(0, end + 4);
  pending_.erase(0, end + 4);
  if (a.head.rfind("HTTP/1.1 ", 0) == 0) a.status = std::atoi(a.head.c_str() + 9);
  if (a.status == 101) return a;
  std::string length = a.header("content-length");
  size_t want = length.empty() ? std::string::npos : std::stoul(length);
  while (pending_.size() < want && fill(deadline)) {
  }
  a.body = pending_.substr(0, want);
  pending_.erase(0, a.body.size());
  return a;
}

std::optional<WsFrame> WsClient::frame(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (!need(2, deadline)) return std::nullopt;
  WsFrame f;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(pending_[i]); };
  f.fin = byte(0) & 0x80;
  f.rsv = byte(0) >> 4 & 0x7;
  f.opcode = byte(0) & 0xf;
  f.masked = byte(1) & 0x80;
  uint64_t length = byte(1) & 0x7f;
  size_t header = 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + (f.masked ? 4 : 0);
  if (!need(header, deadline)) return std::nullopt;
  int length_bytes = length == 126 ? 2 : length == 127 ? 8 : 0;
  if (length_bytes) length = 0;
  for (int i = 0; i < length_bytes; ++i) length = length << 8 | byte(2 + static_cast<size_t>(i));
  if (length > (64u << 20)) return error_ = "frame over 64 MiB", std::nullopt;
  if (!need(header + length, deadline)) return std::nullopt;
  f.payload = pending_.substr(header, length);
  if (f.masked)
    for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] ^= pending_[header - 4 + i % 4];
  pending_.erase(0, header + length);
  return f;
}

std::optional<std::string> WsClient::message(std::chrono::milliseconds timeout) {
  auto f = frame(timeout);
  if (!f) return std::nullopt;
  if (f->opcode != wsop::text && f->opcode != wsop::binary)
    return error_ = "got opcode " + std::to_string(f->opcode) + " instead of a message", std::nullopt;
  return f->payload;
}

std::optional<uint16_t> WsClient::close_code(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto f = frame(std::max(left, std::chrono::milliseconds(0)));
    if (!f) return std::nullopt;
    if (f->opcode == wsop::close) return f->close_code();
    skipped_.push_back(std::move(*f));
  }
}

}  // namespace test
