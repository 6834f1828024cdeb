// ws_handshake.hpp: the HTTP/1.1 request that opens a connection on a `ws:`
// listener (SPEC section 10, RFC 6455 section 4.2), read as its bytes arrive
// and never a byte past the blank line that ends it: a client may send its
// first frame right behind. The parser decides the answer; the response
// functions write it.
//
// Choices where the texts leave room:
// - The request head (request line, header lines and the blank line) may be
//   8192 bytes at most: 431 once a longer head is certain, without reading
//   on. A long request line gets 431 too, not 414.
// - Lines end in CRLF or a bare LF (RFC 9112 section 2.2 allows the latter);
//   a CR anywhere else, a control byte, a space before a header's colon or
//   a folded line is malformed: 400.
// - The request target must be origin-form (`/path?query`), as browsers
//   send it; the absolute form a proxy would send gets 400.
// - Only GET is served. Another method that is a valid token gets 405 with
//   `Allow: GET`; a request line that is not HTTP/1.0 or HTTP/1.1, 400.
// - A request is a WebSocket handshake when its Upgrade header lists the
//   token `websocket`; the WebSocket is served on any path. Other GETs are
//   plain: `/` (query ignored) gets the page, other paths 404.
// - A handshake is checked in this order: HTTP/1.1, Host, a Connection list
//   with `Upgrade`, no body (Content-Length other than 0 or any
//   Transfer-Encoding: the body would be taken for frames) -> 400;
//   Sec-WebSocket-Version present but not exactly 13 -> 426; a
//   Sec-WebSocket-Key that is not the base64 of 16 bytes, or a missing
//   version -> 400; an Origin outside a non-empty allowed list -> 403.
// - A handshake without Origin passes the Origin check: browsers always send
//   one, and any other client can send whatever it likes, so refusing its
//   absence protects nobody. Origins compare ASCII case-insensitively.
// - Host, Origin, Sec-WebSocket-Key and Sec-WebSocket-Version given twice
//   are malformed: 400 (RFC 6455 section 11.3 says each appears once).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/http.hpp"

namespace ws {

enum class HandshakeAnswer {
  need_more,           // the head has not ended yet
  upgrade,             // 101: speak WebSocket from the next byte on
  page,                // 200: the chat page
  bad_request,         // 400
  forbidden,           // 403: Origin not allowed
  not_found,           // 404
  method_not_allowed,  // 405
  upgrade_required,    // 426: a WebSocket version other than 13
  too_large,           // 431
};

// The HTTP status code of an answer; 0 for need_more.
int status_code(HandshakeAnswer answer);

// RFC 6455 section 4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string websocket_accept(std::string_view key);

class HandshakeParser {
 public:
  // Origins a handshake may come from, as browsers send them
  // ("https://example.org"); empty: any.
  explicit HandshakeParser(std::vector<std::string> allowed_origins = {});

  // Takes bytes that follow those fed before; returns how many belong to the
  // head: all of them while need_more, up to the blank line's LF once
  // answered, or up to the byte that made the head too long. Once answered
  // it takes nothing more.
  size_t feed(std::string_view bytes);

  HandshakeAnswer answer() const { return answer_; }
  bool done() const { return answer_ != HandshakeAnswer::need_more; }
  // When upgrade: the Sec-WebSocket-Accept value.
  const std::string& accept() const { return accept_; }
  // When refused: why, in a few words, for the log.
  std::string_view reason() const { return reason_; }

 private:
  void decide(const HttpRequest& request);
  void decide_upgrade(const HttpRequest& request);
  bool origin_allowed(std::string_view origin) const;
  void answer(HandshakeAnswer answer, const char* why);

  std::vector<std::string> allowed_origins_;
  HandshakeAnswer answer_ = HandshakeAnswer::need_more;
  const char* reason_ = "";
  HttpHeadReader reader_;
  std::string accept_;
};

// The response's bytes for any answer but page and need_more: the status
// line and headers and, for a refusal, a one-line text body; a refusal also
// says `Connection: close`, as the server closes after it.
std::string handshake_response(const HandshakeParser& parser);
// The head of the page's response; its `content_length` bytes follow.
std::string page_response_head(size_t content_length);
// A ws: client turned away before its request is read: 503 when every
// worker is busy (overflow reject), 429 for max_per_ip or an address
// blocked for failed AUTHs, with the notice a plain client would get as its
// body, so that a browser sees an HTTP answer.
std::string early_refusal(int code, std::string_view notice);

}  // namespace ws
