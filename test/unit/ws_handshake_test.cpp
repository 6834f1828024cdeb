// The WebSocket opening handshake (RFC 6455 section 4.2, SPEC section 10):
// the RFC's own example, each answer of the SPEC and its response bytes,
// every byte split of each request with a frame behind it, and the 8 KiB
// bound.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "wsserver/ws_handshake.hpp"

namespace {

using Answer = ws::HandshakeAnswer;
using Origins = std::vector<std::string>;

// A masked text frame "Hi" that a client may send right behind its request.
const std::string first_frame = "\x81\x82\x01\x02\x03\x04" "Ik";

const std::string rfc_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// A request with the handshake's headers, `extra` lines added.
std::string handshake(const std::string& extra = "", const std::string& version = "13") {
  return "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " +
         version + "\r\n" + extra + "\r\n";
}

struct Parsed {
  Answer answer = Answer::need_more;
  size_t consumed = 0;
  std::string accept, reason, response;
};

Parsed outcome(const ws::HandshakeParser& p, size_t consumed) {
  Parsed out;
  out.consumed = consumed;
  out.answer = p.answer();
  out.accept = p.accept();
  out.reason = std::string(p.reason());
  out.response = ws::handshake_response(p);
  return out;
}

Parsed parse(const std::string& bytes, const Origins& origins = {}) {
  ws::HandshakeParser p(origins);
  size_t consumed = p.feed(bytes);
  return outcome(p, consumed);
}

bool same(const Parsed& a, const Parsed& b) {
  return a.answer == b.answer && a.consumed == b.consumed && a.accept == b.accept && a.reason == b.reason &&
         a.response == b.response;
}

// Fed whole, in two pieces at every point, and one byte at a time, with a
// frame behind: the same answer, and exactly the head's bytes taken.
// Returns the first failure.
std::string split_failure(const std::string& head, const Origins& origins = {}) {
  std::string stream = head + first_frame;
  Parsed whole = parse(stream, origins);
  if (whole.answer == Answer::need_more || whole.consumed != head.size()) return "fed whole";
  for (size_t i = 0; i <= stream.size(); ++i) {
    ws::HandshakeParser p(origins);
    size_t first = p.feed(std::string_view(stream).substr(0, i));
    if (first != std::min(i, head.size())) return "first piece of split " + std::to_string(i);
    if (p.done() != (i >= head.size())) return "answer after split " + std::to_string(i);
    if (first + p.feed(std::string_view(stream).substr(i)) != head.size()) return "split " + std::to_string(i);
    if (!same(outcome(p, head.size()), whole)) return "answer of split " + std::to_string(i);
  }
  ws::HandshakeParser bytewise(origins);
  size_t used = 0;
  for (char c : stream) used += bytewise.feed(std::string_view(&c, 1));
  if (!same(outcome(bytewise, used), whole)) return "one byte at a time";
  return "";
}

void check(const std::string& head, Answer answer, const Origins& origins = {}) {
  INFO(head);
  CHECK(split_failure(head, origins) == "");
  Parsed r = parse(head + first_frame, origins);
  CHECK(r.answer == answer);
  CHECK(r.consumed == head.size());
  CHECK((answer == Answer::upgrade || answer == Answer::page) == r.reason.empty());
}

}  // namespace

TEST_CASE("ws handshake: the RFC 6455 example key gives its accept value", "[websocket]") {
  CHECK(ws::websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("ws handshake: the RFC 6455 request is upgraded, split anywhere", "[websocket]") {
  CHECK(split_failure(rfc_request) == "");
  Parsed r = parse(rfc_request + first_frame);
  REQUIRE(r.answer == Answer::upgrade);
  CHECK(r.consumed == rfc_request.size());
  CHECK(ws::status_code(r.answer) == 101);
  CHECK(r.response ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST_CASE("ws handshake: names and tokens are case-insensitive, Connection is a list", "[websocket]") {
  check("GET / HTTP/1.1\r\nhOST: h\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n"
        "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION:13\r\n\r\n",
        Answer::upgrade);
  check(handshake("Connection: keep-alive\r\n"), Answer::upgrade);
  check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, websocket\r\nConnection: upgrade,keep-alive\r\n"
        "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  \r\nSec-WebSocket-Version: 13\r\n\r\n",
        Answer::upgrade);
}

TEST_CASE("ws handshake: lines may end in a bare LF", "[websocket]") {
  check("GET / HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n",
        Answer::upgrade);
}

TEST_CASE("ws handshake: another version gets 426 naming 13", "[websocket]") {
  for (const char* version : {"8", "12", "14", "13, 8", "abc"}) check(handshake("", version), Answer::upgrade_required);
  Parsed r = parse(handshake("", "8"));
  CHECK(ws::status_code(r.answer) == 426);
  CHECK(r.response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
  CHECK(r.response.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(r.response.find("\r\nUpgrade: websocket\r\n") != std::string::npos);
}

TEST_CASE("ws handshake: malformed requests get 400", "[websocket]") {
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  const std::string rest = "Upgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n";
  for (const std::string& head : std::vector<std::string>{
           "GET / HTTP/1.1\r\n" + rest,                                   // no Host
           "GET / HTTP/1.0\r\nHost: h\r\n" + rest,                        // WebSocket needs 1.1
           "GET  / HTTP/1.1\r\nHost: h\r\n" + rest,                       // two spaces
           "GET / HTTP/2.0\r\nHost: h\r\n" + rest,                        // another HTTP
           "GET http://h/ HTTP/1.1\r\nHost: h\r\n" + rest,                // not origin-form
           "GET / HTTP/1.1\r\nHost : h\r\n" + rest,                       // space before the colon
           "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n" + rest,             // folded line
           "GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n" + rest,            // no colon
           "GET / HTTP/1.1\r\nHost: h\rX: y\r\n" + rest,                  // lone CR
           "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n" + rest,           // control byte
           "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n" + rest,             // Host twice
           "GET / HTTP/1.1\r\nHost: h\r\n" + key + rest,                  // key twice
           "\r\n",                                                        // no request line
           handshake("Content-Length: 5\r\n"),                            // a body
           handshake("Transfer-Encoding: chunked\r\n"),                   // a body
           "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
       })
    check(head, Answer::bad_request);
  // Keys that are not the base64 of 16 bytes.
  for (const char* bad : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZRE=",
                          "dGhlIHNhbXBsZSBub25jZQ==dGhl", "dGhl IHNhbXBsZSBub25jZQ=="}) {
    check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
              std::string(bad) + "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          Answer::bad_request);
  }
  Parsed r = parse("GET / HTTP/1.1\r\n" + rest);
  CHECK(r.response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(r.response.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(r.response.ends_with("\r\n\r\n400 Bad Request\n"));
  CHECK(r.response.find("Content-Length: 16\r\n") != std::string::npos);
}

TEST_CASE("ws handshake: an Origin outside ws_origins gets 403", "[websocket]") {
  const Origins allowed = {"https://chat.example.org", "http://localhost:8080"};
  check(handshake("Origin: https://evil.example\r\n"), Answer::upgrade);  // empty list: any
  check(handshake("Origin: https://evil.example\r\n"), Answer::forbidden, allowed);
  check(handshake("Origin: https://chat.example.org.evil.example\r\n"), Answer::forbidden, allowed);
  check(handshake("Origin: null\r\n"), Answer::forbidden, allowed);
  check(handshake("Origin: https://chat.example.org\r\n"), Answer::upgrade, allowed);
  check(handshake("Origin: HTTP://LOCALHOST:8080\r\n"), Answer::upgrade, allowed);
  check(handshake(), Answer::upgrade, allowed);
  Parsed r = parse(handshake("Origin: https://evil.example\r\n"), allowed);
  CHECK(r.response.starts_with("HTTP/1.1 403 Forbidden\r\n"));
}

TEST_CASE("ws handshake: a plain GET of / is the page, other paths 404", "[websocket]") {
  check("GET / HTTP/1.1\r\nHost: h\r\n\r\n", Answer::page);
  check("GET /?room=1 HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n\r\n", Answer::page);
  check("GET / HTTP/1.0\r\n\r\n", Answer::page);
  check("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", Answer::page);
  check("GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n", Answer::not_found);
  check("GET /chat HTTP/1.1\r\nHost: h\r\n\r\n", Answer::not_found);
  CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").response == "");
  CHECK(parse("GET /x HTTP/1.1\r\nHost: h\r\n\r\n").response.starts_with("HTTP/1.1 404 Not Found\r\n"));
  CHECK(ws::page_response_head(42) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 42\r\n"
        "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
}

TEST_CASE("ws handshake: other methods get 405 naming GET", "[websocket]") {
  check("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", Answer::method_not_allowed);
  check("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", Answer::method_not_allowed);
  check("get / HTTP/1.1\r\nHost: h\r\n\r\n", Answer::method_not_allowed);
  check("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", Answer::bad_request);
  Parsed r = parse("PUT / HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r.response.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"));
}

TEST_CASE("ws handshake: a head over 8 KiB gets 431 without reading on", "[websocket]") {
  std::string start = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
  std::string end = "\r\n\r\n";
  std::string fits = start + std::string(ws::max_request_head - start.size() - end.size(), 'a') + end;
  REQUIRE(fits.size() == ws::max_request_head);
  check(fits, Answer::page);
  std::string over = start + std::string(ws::max_request_head - start.size() - end.size() + 1, 'a') + end;
  Parsed r = parse(over + first_frame);
  CHECK(r.answer == Answer::too_large);
  CHECK(r.consumed == ws::max_request_head);
  CHECK(r.response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  // An endless header line is cut at the bound too, fed in any pieces.
  ws::HandshakeParser p;
  size_t used = 0;
  for (int i = 0; i < 2000 && !p.done(); ++i) used += p.feed("GET / HTTP/1.1\r\nX: 12345678");
  CHECK(p.answer() == Answer::too_large);
  CHECK(used == ws::max_request_head);
  CHECK(p.feed("more") == 0);
}
