// ws_client.hpp: a WebSocket client for tests, written from RFC 6455 and
// independent of the server's codec: it sends masked frames the way a test
// needs them (well-formed or broken on purpose), and reads the server's
// frames and HTTP answers, every read bounded by a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"

namespace test {

struct WsFrame {
  bool fin = true;
  uint8_t rsv = 0;     // the three reserved bits, as bits 6..4 of the first byte
  uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong, 0 continuation
  bool masked = false;
  std::string payload;
  // For a close frame: its code, or 1005 when it has none.
  uint16_t close_code() const;
};

namespace wsop {
constexpr uint8_t continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10;
}

// A request head: the handshake, or any GET; `extra` lines end with CRLF.
std::string ws_request(const std::string& path = "/", const std::string& extra = "",
                       const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==", const std::string& version = "13");

// The bytes of one client frame: masked unless told otherwise, with the
// length in its shortest form unless `length_bytes` forces 2 or 8.
std::string ws_frame_bytes(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true,
                           uint8_t rsv = 0, int length_bytes = 0);
std::string ws_close_bytes(uint16_t code, std::string_view reason = {});

class WsClient {
 public:
  explicit WsClient(Client client) : client_(std::move(client)) {}
  // Connects, sends the handshake and reads the 101; nullopt (with *why) if
  // the answer is anything else.
  static std::optional<WsClient> open(uint16_t port, std::string* why = nullptr, const std::string& extra = "");
  // Connects and sends `request`; the answer is then read with http_answer().
  static WsClient raw(uint16_t port, std::string_view request);

  bool send_raw(std::string_view bytes) { return client_.send(bytes); }
  // Sends each byte in its own write: the server must not care how TCP splits.
  bool send_bytewise(std::string_view bytes);
  bool send(uint8_t opcode, std::string_view payload, bool fin = true) {
    return send_raw(ws_frame_bytes(opcode, payload, fin));
  }
  bool send_text(std::string_view text) { return send(wsop::text, text); }

  // The HTTP answer's head (up to the blank line) and its body (by
  // Content-Length, or to the close), or nullopt on timeout.
  struct HttpAnswer {
    int status = 0;
    std::string head, body;
    std::string header(const std::string& name) const;  // first value, name case-insensitive
  };
  std::optional<HttpAnswer> http_answer(std::chrono::milliseconds timeout = 5s);

  // The next frame; nullopt on close of the connection, timeout or a frame
  // that does not parse (the reason in last_error()).
  std::optional<WsFrame> frame(std::chrono::milliseconds timeout = 5s);
  // The next text or binary frame's payload, answering nothing, failing on
  // anything else.
  std::optional<std::string> message(std::chrono::milliseconds timeout = 5s);
  // Reads until a close frame: its code, or nullopt if none came. Frames
  // before it are kept in skipped().
  std::optional<uint16_t> close_code(std::chrono::milliseconds timeout = 5s);
  const std::vector<WsFrame>& skipped() const { return skipped_; }
  // True if the TCP connection ends (EOF or reset) within `timeout`,
  // whatever comes before.
  bool closed_within(std::chrono::milliseconds timeout) { return client_.closed_within(timeout); }
  bool quiet_for(std::chrono::milliseconds duration) { return pending_.empty() && client_.quiet_for(duration); }
  const std::string& last_error() const { return error_; }
  int fd() const { return client_.fd(); }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  bool need(size_t bytes, std::chrono::steady_clock::time_point deadline);

  Client client_;
  std::string pending_;
  std::string error_;
  std::vector<WsFrame> skipped_;
};

}  // namespace test
