// libFuzzer target: a request to the metrics endpoint (metrics_server.hpp),
// read as the master reads it, in chunks, then answered. Properties:
// - the head reader never takes more than max_request_head bytes, nor a
//   byte past the blank line;
// - fed whole or in the fuzzer's chunks, the same answer;
// - every answer is one of 200, 400, 404, 405, 431, says Connection: close,
//   and its Content-Length is its body's length; 200 only for GET /metrics.
//
// Input: byte 0 % 16 + 1 is the chunk size; the rest is what the client sent.
#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/metrics_server.hpp"

#include "fuzz_check.hpp"

namespace {

std::string answer(std::string_view stream, size_t chunk) {
  ws::HttpHeadReader head;
  size_t taken = 0;
  for (size_t at = 0; at < stream.size() && head.state() == ws::HttpHeadReader::State::more; at += chunk)
    taken += head.feed(stream.substr(at, chunk));
  FUZZ_CHECK(taken == head.head().size() && taken <= ws::max_request_head);
  if (head.state() == ws::HttpHeadReader::State::more) return "";
  return ws::metrics_answer(head, [] { return std::string("wsserver_up 1\n"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 16 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string whole = answer(stream, stream.size() + 1), chunked = answer(stream, chunk);
  FUZZ_CHECK(whole == chunked);
  if (whole.empty()) return 0;
  std::string code = whole.substr(9, 3);
  FUZZ_CHECK(code == "200" || code == "400" || code == "404" || code == "405" || code == "431");
  FUZZ_CHECK(whole.find("\r\nConnection: close\r\n") != std::string::npos);
  size_t blank = whole.find("\r\n\r\n");
  size_t length_at = whole.find("Content-Length: ");
  FUZZ_CHECK(blank != std::string::npos && length_at != std::string::npos);
  FUZZ_CHECK(std::stoul(whole.substr(length_at + 16)) == whole.size() - blank - 4);
  if (code == "200") FUZZ_CHECK(stream.substr(0, 13) == "GET /metrics " || stream.substr(0, 13) == "GET /metrics?");
  return 0;
}
