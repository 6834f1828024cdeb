#include "wsserver/ws_handshake.hpp"

#include <algorithm>
#include <utility>

#include "wsserver/base64.hpp"
#include "wsserver/http.hpp"
#include "wsserver/sha1.hpp"

namespace ws {
namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

int status_code(HandshakeAnswer answer) {
  switch (answer) {
    case HandshakeAnswer::need_more: return 0;
    case HandshakeAnswer::upgrade: return 101;
    case HandshakeAnswer::page: return 200;
    case HandshakeAnswer::bad_request: return 400;
    case HandshakeAnswer::forbidden: return 403;
    case HandshakeAnswer::not_found: return 404;
    case HandshakeAnswer::method_not_allowed: return 405;
    case HandshakeAnswer::upgrade_required: return 426;
    case HandshakeAnswer::too_large: return 431;
  }
  return 0;
}

std::string websocket_accept(std::string_view key) {
  std::string joined = std::string(key) + std::string(websocket_guid);
  auto digest = sha1(joined);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

HandshakeParser::HandshakeParser(std::vector<std::string> allowed_origins)
    : allowed_origins_(std::move(allowed_origins)) {}

size_t HandshakeParser::feed(std::string_view bytes) {
  if (done()) return 0;
  size_t used = reader_.feed(bytes);
  if (reader_.state() == HttpHeadReader::State::complete) decide(parse_http_head(reader_.head()));
  if (reader_.state() == HttpHeadReader::State::too_large) answer(HandshakeAnswer::too_large, "request head over 8 KiB");
  return used;
}

void HandshakeParser::answer(HandshakeAnswer answer, const char* why) {
  answer_ = answer;
  reason_ = why;
}

void HandshakeParser::decide(const HttpRequest& r) {
  if (r.malformed) return answer(HandshakeAnswer::bad_request, r.malformed);
  if (r.method != "GET") return answer(HandshakeAnswer::method_not_allowed, "method not GET");
  for (auto name : {"host", "origin", "sec-websocket-key", "sec-websocket-version"})
    if (r.count(name) > 1) return answer(HandshakeAnswer::bad_request, "header given twice");
  if (r.version == "HTTP/1.1" && r.count("host") == 0) return answer(HandshakeAnswer::bad_request, "no Host");
  if (r.has_body()) return answer(HandshakeAnswer::bad_request, "request with a body");
  if (r.any_lists("upgrade", "websocket")) return decide_upgrade(r);
  if (r.path() == "/") return answer(HandshakeAnswer::page, "");
  answer(HandshakeAnswer::not_found, "no such page");
}

void HandshakeParser::decide_upgrade(const HttpRequest& r) {
  if (r.version != "HTTP/1.1") return answer(HandshakeAnswer::bad_request, "WebSocket over HTTP/1.0");
  if (!r.any_lists("connection", "upgrade")) return answer(HandshakeAnswer::bad_request, "Connection without Upgrade");
  if (r.count("sec-websocket-version") == 0) return answer(HandshakeAnswer::bad_request, "no Sec-WebSocket-Version");
  if (r.value("sec-websocket-version") != "13") return answer(HandshakeAnswer::upgrade_required, "version not 13");
  auto key = base64_decode(r.value("sec-websocket-key"));
  if (!key || key->size() != 16) return answer(HandshakeAnswer::bad_request, "bad Sec-WebSocket-Key");
  if (r.count("origin") > 0 && !origin_allowed(r.value("origin")))
    return answer(HandshakeAnswer::forbidden, "Origin not allowed");
  accept_ = websocket_accept(r.value("sec-websocket-key"));
  answer(HandshakeAnswer::upgrade, "");
}

bool HandshakeParser::origin_allowed(std::string_view origin) const {
  if (allowed_origins_.empty()) return true;
  return std::any_of(allowed_origins_.begin(), allowed_origins_.end(),
                     [&](const std::string& allowed) { return ascii_iequals(allowed, origin); });
}

namespace {

std::string_view phrase(int code) {
  switch (code) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
  }
  return "Error";
}

// RFC 9110 asks 405 to name the allowed methods and 426 to name the
// protocol (with Connection: Upgrade, as for any Upgrade header).
std::string refusal(int code) {
  std::string status = std::to_string(code) + " " + std::string(phrase(code));
  std::string extra = code == 405   ? "Allow: GET\r\nConnection: close\r\n"
                      : code == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nConnection: Upgrade, close\r\n"
                                    : "Connection: close\r\n";
  std::string body = status + "\n";
  return "HTTP/1.1 " + status + "\r\n" + extra + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

std::string handshake_response(const HandshakeParser& parser) {
  switch (parser.answer()) {
    case HandshakeAnswer::need_more:
    case HandshakeAnswer::page: return "";
    case HandshakeAnswer::upgrade:
      return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: " + parser.accept() + "\r\n\r\n";
    default: return refusal(status_code(parser.answer()));
  }
}

std::string early_refusal(int code, std::string_view notice) {
  std::string body = std::string(notice) + "\n";
  std::string status = code == 503 ? "503 Service Unavailable" : std::to_string(code) + " Too Many Requests";
  return "HTTP/1.1 " + status + "\r\nRetry-After: " + (code == 503 ? "1" : "60") +
         "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string page_response_head(size_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
         std::to_string(content_length) +
         "\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
}

}  // namespace ws
