// libFuzzer target: the RESP2 reader (SPEC section 11), fed what a broken
// or hostile Redis could send. Properties:
// - the result does not depend on how the bytes were split: fed whole, in
//   the fuzzer's chunks, or one byte at a time, the values, the bytes each
//   took, the status and the reason are the same;
// - every value stays within the limits (bulk and line lengths, elements,
//   depth), so the reader's memory does too;
// - a value written out reads back the same, and is byte for byte what was
//   read unless an integer was spelt loosely (a '+', "-0", leading zeros);
//   a command (an array of bulk strings) written by resp_command() is the
//   bytes it was read from;
// - the pub/sub helpers accept any value and answer only for their shape.
//
// Input: byte 0 % 32 + 1 is the chunk size; the rest is what Redis sent.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/resp.hpp"

#include "fuzz_check.hpp"

namespace {

using Status = ws::RespReader::Status;
using Type = ws::RespValue::Type;
using ws::RespValue;

// Small, so that the fuzzer reaches every limit.
ws::RespLimits limits() {
  ws::RespLimits l;
  l.max_bulk = 64;
  l.max_line = 32;
  l.max_elements = 16;
  l.max_depth = 3;
  return l;
}

struct Read {
  std::vector<RespValue> values;
  std::vector<size_t> ends;  // where each value's bytes end in the stream
  Status status = Status::need_more;
  std::string reason;
  size_t taken = 0;

  bool operator==(const Read&) const = default;
};

Read in_chunks(std::string_view stream, size_t chunk) {
  ws::RespReader reader(limits());
  Read out;
  for (size_t at = 0; at < stream.size() && reader.status() != Status::bad; at += chunk) {
    std::string_view piece = stream.substr(at, chunk);
    while (!piece.empty() && reader.status() != Status::bad) {
      size_t n = reader.feed(piece);
      FUZZ_CHECK(n <= piece.size());
      FUZZ_CHECK(n == piece.size() || reader.status() != Status::need_more);
      piece.remove_prefix(n);
      out.taken += n;
      if (reader.status() != Status::done) continue;
      FUZZ_CHECK(reader.feed(piece) == 0);
      out.values.push_back(reader.take());
      out.ends.push_back(out.taken);
    }
  }
  out.status = reader.status();
  out.reason = std::string(reader.reason());
  FUZZ_CHECK((out.status == Status::bad) == !out.reason.empty());
  return out;
}

// Returns the elements the value holds, nested ones included.
size_t check_bounded(const RespValue& v, size_t depth) {
  const ws::RespLimits l = limits();
  if (v.type == Type::bulk) FUZZ_CHECK(v.text.size() <= l.max_bulk);
  if (v.type == Type::simple || v.type == Type::error) FUZZ_CHECK(v.text.size() <= l.max_line);
  if (v.type == Type::simple || v.type == Type::error)
    FUZZ_CHECK(v.text.find_first_of("\r\n") == std::string::npos);
  if (v.type != Type::bulk && v.type != Type::simple && v.type != Type::error) FUZZ_CHECK(v.text.empty());
  if (v.type != Type::array) {
    FUZZ_CHECK(v.elements.empty());
    return 0;
  }
  FUZZ_CHECK(depth + 1 <= l.max_depth);
  size_t count = v.elements.size();
  for (const RespValue& e : v.elements) count += check_bounded(e, depth + 1);
  return count;
}

bool has_integer(const RespValue& v) {
  return v.type == Type::integer || std::any_of(v.elements.begin(), v.elements.end(), has_integer);
}

bool is_command(const RespValue& v) {
  return v.type == Type::array && !v.elements.empty() &&
         std::all_of(v.elements.begin(), v.elements.end(), [](const RespValue& e) { return e.type == Type::bulk; });
}

bool within(std::string_view part, const std::string& whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_helpers(const RespValue& v) {
  if (auto m = ws::resp_message(v)) {
    FUZZ_CHECK(v.elements.size() == 3 && v.elements[0].text == "message");
    FUZZ_CHECK(m->channel == v.elements[1].text && within(m->channel, v.elements[1].text));
    FUZZ_CHECK(m->payload == v.elements[2].text && within(m->payload, v.elements[2].text));
  }
  if (auto s = ws::resp_subscribed(v)) {
    FUZZ_CHECK(v.elements.size() == 3 && v.elements[0].text == "subscribe");
    FUZZ_CHECK(s->channel == v.elements[1].text && s->count == v.elements[2].integer);
  }
  FUZZ_CHECK(ws::resp_error(v).has_value() == (v.type == Type::error));
  if (ws::resp_is_pong(v)) FUZZ_CHECK(v.type == Type::simple || v.elements.size() == 2);
}

void check_value(const RespValue& v, std::string_view bytes) {
  FUZZ_CHECK(check_bounded(v, 0) <= limits().max_elements);
  std::string encoded = ws::resp_encode(v);
  Read again = in_chunks(encoded, encoded.size());
  FUZZ_CHECK(again.status == Status::need_more && again.values.size() == 1 && again.values[0] == v);
  FUZZ_CHECK(again.taken == encoded.size());
  FUZZ_CHECK(encoded == bytes || has_integer(v));
  if (!is_command(v)) return check_helpers(v);
  std::vector<std::string_view> args;
  for (const RespValue& e : v.elements) args.push_back(e.text);
  FUZZ_CHECK(ws::resp_command(args) == bytes);
  check_helpers(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 32 + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Read whole = in_chunks(stream, std::max<size_t>(stream.size(), 1));
  FUZZ_CHECK(whole.taken == stream.size() || whole.status == Status::bad);
  FUZZ_CHECK(in_chunks(stream, chunk) == whole);
  FUZZ_CHECK(in_chunks(stream, 1) == whole);
  size_t start = 0;
  for (size_t i = 0; i < whole.values.size(); ++i) {
    check_value(whole.values[i], stream.substr(start, whole.ends[i] - start));
    start = whole.ends[i];
  }
  return 0;
}
