#include "wsserver/ws_handshake.hpp"

#include <algorithm>
#include <utility>

#include "wsserver/base64.hpp"
#include "wsserver/sha1.hpp"

namespace ws {
namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view whitespace = " \t";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

// RFC 9110 section 5.6.2's tchar.
bool is_token(std::string_view s) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') || specials.find(c) != specials.npos;
  });
}

// field-value: visible characters, obs-text, spaces and tabs.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return b == '\t' || (b >= 0x20 && b != 0x7f);
  });
}

// origin-form only: what a browser's WebSocket and a page request send.
bool is_target(std::string_view s) {
  return !s.empty() && s[0] == '/' && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string_view trim(std::string_view s) {
  size_t first = s.find_first_not_of(whitespace);
  if (first == s.npos) return {};
  return s.substr(first, s.find_last_not_of(whitespace) - first + 1);
}

// Whether a comma-separated list (RFC 9110 section 5.6.1) holds `token`.
bool lists(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == list.npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

// The request head, viewing HandshakeParser's copy of it.
struct HttpRequest {
  std::string_view method, target, version;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  const char* malformed = nullptr;

  size_t count(std::string_view name) const {
    return std::count_if(headers.begin(), headers.end(), [&](auto& h) { return iequals(h.first, name); });
  }
  // The first value, or "" when absent.
  std::string_view value(std::string_view name) const {
    for (auto& h : headers)
      if (iequals(h.first, name)) return h.second;
    return {};
  }
  bool any_lists(std::string_view name, std::string_view token) const {
    return std::any_of(headers.begin(), headers.end(),
                       [&](auto& h) { return iequals(h.first, name) && lists(h.second, token); });
  }
  bool has_body() const {
    for (auto& h : headers)
      if (iequals(h.first, "content-length") && h.second.find_first_not_of('0') != h.second.npos) return true;
    return count("transfer-encoding") > 0;
  }
};

namespace {

using Request = HttpRequest;

void parse_request_line(std::string_view line, Request& r) {
  size_t first = line.find(' '), second = line.find(' ', first + 1);
  if (first == line.npos || second == line.npos || line.find(' ', second + 1) != line.npos) {
    r.malformed = "request line not three fields";
    return;
  }
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, second - first - 1);
  r.version = line.substr(second + 1);
  if (!is_token(r.method)) r.malformed = "bad method";
  else if (!is_target(r.target)) r.malformed = "bad request target";
  else if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") r.malformed = "not HTTP/1.0 or HTTP/1.1";
}

void parse_header_line(std::string_view line, Request& r) {
  size_t colon = line.find(':');
  if (colon == line.npos) r.malformed = "header line without a colon";
  else if (!is_token(line.substr(0, colon))) r.malformed = "bad header name";
  else if (!is_field_value(line.substr(colon + 1))) r.malformed = "control byte in a header value";
  else r.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
}

// Each line without its LF and the CR before it, the blank line excluded.
Request parse_head(std::string_view head) {
  Request r;
  bool first = true;
  while (!r.malformed) {
    size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() && !first) break;
    if (first) parse_request_line(line, r);
    else parse_header_line(line, r);
    first = false;
    head.remove_prefix(lf + 1);
  }
  return r;
}

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
  size_t used = 0;
  while (used < bytes.size() && !done()) take(bytes[used++]);
  return used;
}

void HandshakeParser::take(char c) {
  head_ += c;
  if (c == '\n') {
    std::string_view line = std::string_view(head_).substr(line_start_);
    line_start_ = head_.size();
    if (line == "\n" || line == "\r\n") return end_of_head();
  }
  if (head_.size() >= max_request_head) answer(HandshakeAnswer::too_large, "request head over 8 KiB");
}

void HandshakeParser::answer(HandshakeAnswer answer, const char* why) {
  answer_ = answer;
  reason_ = why;
}

void HandshakeParser::end_of_head() {
  Request request = parse_head(head_);
  decide(request);
}

void HandshakeParser::decide(const HttpRequest& r) {
  if (r.malformed) return answer(HandshakeAnswer::bad_request, r.malformed);
  if (r.method != "GET") return answer(HandshakeAnswer::method_not_allowed, "method not GET");
  for (auto name : {"host", "origin", "sec-websocket-key", "sec-websocket-version"})
    if (r.count(name) > 1) return answer(HandshakeAnswer::bad_request, "header given twice");
  if (r.version == "HTTP/1.1" && r.count("host") == 0) return answer(HandshakeAnswer::bad_request, "no Host");
  if (r.has_body()) return answer(HandshakeAnswer::bad_request, "request with a body");
  if (r.any_lists("upgrade", "websocket")) return decide_upgrade(r);
  std::string_view path = r.target.substr(0, r.target.find('?'));
  if (path == "/") return answer(HandshakeAnswer::page, "");
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
                     [&](const std::string& allowed) { return iequals(allowed, origin); });
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
