// http.hpp: an HTTP/1.1 request head (RFC 9112 sections 2 and 3, RFC 9110
// section 5), read as its bytes arrive and never a byte past the blank line
// that ends it, then split into method, target, version and header fields.
// What the head means is the caller's: the WebSocket handshake
// (ws_handshake.hpp) and the metrics endpoint (metrics_server.hpp).
//
// Choices where the texts leave room:
// - A head (request line, header lines and the blank line) is at most
//   max_request_head bytes; past that the reader stops taking bytes.
// - Lines end in CRLF or a bare LF (RFC 9112 section 2.2 allows the latter);
//   a control byte in a header value, a space before a header's colon or
//   a folded line is malformed.
// - The request target must be origin-form (`/path?query`), as browsers and
//   Prometheus send it; the absolute form a proxy would send is malformed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ws {

constexpr size_t max_request_head = 8192;

// ASCII case-insensitive equality, as header names and tokens compare.
bool ascii_iequals(std::string_view a, std::string_view b);

// A parsed head; every view points into the text given to parse_http_head.
struct HttpRequest {
  std::string_view method, target, version;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  const char* malformed = nullptr;  // why the head is not HTTP, or null

  size_t count(std::string_view name) const;
  // The first value, or "" when absent.
  std::string_view value(std::string_view name) const;
  // Whether any `name` header's comma-separated list holds `token`.
  bool any_lists(std::string_view name, std::string_view token) const;
  // A Content-Length other than 0, or any Transfer-Encoding.
  bool has_body() const;
  // The target without its query.
  std::string_view path() const { return target.substr(0, target.find('?')); }
};

// The head's text, from the request line up to and including the blank
// line's LF; a malformed request line or header line sets `malformed`.
HttpRequest parse_http_head(std::string_view head);

// Collects a request head from a byte stream.
class HttpHeadReader {
 public:
  enum class State { more, complete, too_large };

  // Takes bytes that follow those fed before; returns how many belong to the
  // head: all of them while more, up to the blank line's LF once complete,
  // or up to the byte that made the head too long. Then it takes nothing.
  size_t feed(std::string_view bytes);
  State state() const { return state_; }
  // The bytes taken, at most max_request_head.
  const std::string& head() const { return head_; }

 private:
  void take(char c);

  State state_ = State::more;
  std::string head_;
  size_t line_start_ = 0;  // where the line being read starts in head_
};

}  // namespace ws
