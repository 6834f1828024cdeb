// libFuzzer target: the WebSocket handshake parser (SPEC section 10, RFC
// 6455 section 4.2). Properties:
// - it never takes more than it is given, nor a byte past the blank line
//   that ends the head (the client's first frame may follow), nor more than
//   8 KiB: the bytes taken hold exactly one blank line, at their end, unless
//   the answer is 431;
// - the result does not depend on how the bytes were split: fed whole, in
//   the fuzzer's chunks or one byte at a time, the same answer, bytes
//   taken, accept value, reason and response;
// - once answered it takes nothing more;
// - each response is well formed: its status line names the answer's code,
//   a refusal's Content-Length is its body's, a 101 carries a 28-character
//   accept value.
//
// Input: byte 0 % 32 + 1 is the chunk size; byte 1 odd allows only the
// origin https://a.example; the rest is what the client sent.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/ws_handshake.hpp"

#include "fuzz_check.hpp"

namespace {

using Answer = ws::HandshakeAnswer;

struct Outcome {
  Answer answer = Answer::need_more;
  size_t taken = 0;
  std::string accept, reason, response;
};

Outcome in_chunks(std::string_view stream, size_t chunk, const std::vector<std::string>& origins) {
  ws::HandshakeParser p(origins);
  size_t taken = 0;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    size_t n = std::min(chunk, stream.size() - at);
    size_t used = p.feed(stream.substr(at, n));
    FUZZ_CHECK(used <= n);
    FUZZ_CHECK(used == n || p.done());
    taken += used;
  }
  if (p.done()) FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n\r\n") == 0);
  return {p.answer(), taken, p.accept(), std::string(p.reason()), ws::handshake_response(p)};
}

bool same(const Outcome& a, const Outcome& b) {
  return a.answer == b.answer && a.taken == b.taken && a.accept == b.accept && a.reason == b.reason &&
         a.response == b.response;
}

// The first blank line (LF, optional CR, LF; or the head starting with one).
size_t head_end(std::string_view s) {
  if (s.starts_with("\n")) return 1;
  if (s.starts_with("\r\n")) return 2;
  for (size_t at = s.find('\n'); at != s.npos; at = s.find('\n', at + 1)) {
    if (s.substr(at + 1).starts_with("\n")) return at + 2;
    if (s.substr(at + 1).starts_with("\r\n")) return at + 3;
  }
  return s.npos;
}

void check_response(const Outcome& o) {
  int code = ws::status_code(o.answer);
  if (o.answer == Answer::page) {
    FUZZ_CHECK(o.response.empty() && o.reason.empty());
    return;
  }
  FUZZ_CHECK(o.response.starts_with("HTTP/1.1 " + std::to_string(code) + " "));
  FUZZ_CHECK(o.response.find("\r\n\r\n") != std::string::npos);
  if (o.answer == Answer::upgrade) {
    FUZZ_CHECK(o.accept.size() == 28 && o.reason.empty());
    FUZZ_CHECK(o.response.ends_with("Sec-WebSocket-Accept: " + o.accept + "\r\n\r\n"));
    return;
  }
  FUZZ_CHECK(!o.reason.empty());
  std::string body = o.response.substr(o.response.find("\r\n\r\n") + 4);
  FUZZ_CHECK(o.response.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = data[0] % 32 + 1;
  std::vector<std::string> origins;
  if (data[1] & 1) origins.push_back("https://a.example");
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  Outcome whole = in_chunks(stream, std::max<size_t>(stream.size(), 1), origins);
  FUZZ_CHECK(whole.taken <= stream.size() && whole.taken <= ws::max_request_head);
  if (whole.answer == Answer::need_more) FUZZ_CHECK(whole.taken == stream.size() && head_end(stream) == stream.npos);
  else if (whole.answer == Answer::too_large) FUZZ_CHECK(whole.taken == ws::max_request_head);
  else FUZZ_CHECK(head_end(stream) == whole.taken);
  FUZZ_CHECK(same(in_chunks(stream, chunk, origins), whole));
  FUZZ_CHECK(same(in_chunks(stream, 1, origins), whole));
  if (whole.answer != Answer::need_more) check_response(whole);
  return 0;
}
