// The RESP2 reader and writer, against Redis's protocol-spec and pubsub
// pages: the spec's examples, each read whole, split at every byte and one
// byte at a time, with another value behind it; the pushes a subscribed
// connection gets; and the malformed or oversized input a reader must refuse
// before it holds more than its limits.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "wsserver/resp.hpp"

namespace {

using Status = ws::RespReader::Status;
using Type = ws::RespValue::Type;
using ws::RespValue;

// A literal with NUL bytes in it, whole.
template <size_t N>
std::string literal(const char (&s)[N]) {
  return std::string(s, N - 1);
}

RespValue value_of(Type type, std::string text = {}, int64_t n = 0, std::vector<RespValue> elements = {}) {
  RespValue value;
  value.type = type;
  value.text = std::move(text);
  value.integer = n;
  value.elements = std::move(elements);
  return value;
}

RespValue simple(std::string s) { return value_of(Type::simple, std::move(s)); }
RespValue error(std::string s) { return value_of(Type::error, std::move(s)); }
RespValue integer(int64_t n) { return value_of(Type::integer, "", n); }
RespValue bulk(std::string s) { return value_of(Type::bulk, std::move(s)); }
RespValue null_bulk() { return value_of(Type::null_bulk); }
RespValue null_array() { return value_of(Type::null_array); }
RespValue array(std::vector<RespValue> elements) { return value_of(Type::array, "", 0, std::move(elements)); }

struct Read {
  std::vector<RespValue> values;
  Status status = Status::need_more;
  std::string reason;
};

bool operator==(const Read& a, const Read& b) {
  return a.values == b.values && a.status == b.status && a.reason == b.reason;
}

// As a caller reading a socket would: feed, take each value done, stop at bad.
void read_into(ws::RespReader& reader, std::string_view bytes, Read& out) {
  while (!bytes.empty() && reader.status() != Status::bad) {
    size_t n = reader.feed(bytes);
    bytes.remove_prefix(n);
    if (reader.status() == Status::done) out.values.push_back(reader.take());
  }
  out.status = reader.status();
  out.reason = std::string(reader.reason());
}

Read read_pieces(const std::vector<std::string_view>& pieces, const ws::RespLimits& limits = {}) {
  ws::RespReader reader(limits);
  Read out;
  for (std::string_view piece : pieces) read_into(reader, piece, out);
  return out;
}

Read read(std::string_view bytes, const ws::RespLimits& limits = {}) { return read_pieces({bytes}, limits); }

Read read_bytewise(std::string_view bytes, const ws::RespLimits& limits = {}) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < bytes.size(); ++i) pieces.push_back(bytes.substr(i, 1));
  return read_pieces(pieces, limits);
}

// The first split of `bytes` that reads differently from the whole, or "".
std::string split_failure(std::string_view bytes, const ws::RespLimits& limits = {}) {
  Read whole = read(bytes, limits);
  for (size_t i = 0; i <= bytes.size(); ++i)
    if (!(read_pieces({bytes.substr(0, i), bytes.substr(i)}, limits) == whole)) return "split " + std::to_string(i);
  if (!(read_bytewise(bytes, limits) == whole)) return "one byte at a time";
  return "";
}

// The value alone, then with another behind it: feed() stops at its end.
void check_reads(const std::string& bytes, const RespValue& expected) {
  INFO(bytes);
  ws::RespReader reader;
  std::string stream = bytes + ":7\r\n";
  REQUIRE(reader.feed(stream) == bytes.size());
  REQUIRE(reader.status() == Status::done);
  CHECK(reader.feed(stream) == 0);
  CHECK(reader.take() == expected);
  CHECK(reader.status() == Status::need_more);
  CHECK(reader.feed(std::string_view(stream).substr(bytes.size())) == 4);
  CHECK(reader.take() == integer(7));
  CHECK(split_failure(stream) == "");
  for (size_t n = 0; n < bytes.size(); ++n) {
    ws::RespReader partial;
    CHECK(partial.feed(std::string_view(bytes).substr(0, n)) == n);
    CHECK(partial.status() == Status::need_more);
  }
  CHECK(ws::resp_encode(expected) == bytes);
}

void check_bad(std::string_view bytes, const std::string& reason, const ws::RespLimits& limits = {}) {
  INFO(std::string(bytes));
  Read whole = read(bytes, limits);
  CHECK(whole.status == Status::bad);
  CHECK_THAT(whole.reason, Catch::Contains(reason));
  CHECK(split_failure(bytes, limits) == "");
}

// Refused as soon as `prefix` is in, with nothing after it needed.
void check_bad_at(std::string_view prefix, const std::string& reason, const ws::RespLimits& limits = {}) {
  check_bad(prefix, reason, limits);
  ws::RespReader reader(limits);
  reader.feed(prefix);
  CHECK(reader.status() == Status::bad);
  CHECK(reader.feed("+OK\r\n") == 0);
}

const std::vector<std::pair<std::string, RespValue>> spec_examples = {
    {"+OK\r\n", simple("OK")},
    {"-Error message\r\n", error("Error message")},
    {":1000\r\n", integer(1000)},
    {":0\r\n", integer(0)},
    {":-52\r\n", integer(-52)},
    {"$5\r\nhello\r\n", bulk("hello")},
    {"$0\r\n\r\n", bulk("")},
    {"$-1\r\n", null_bulk()},
    {"*0\r\n", array({})},
    {"*-1\r\n", null_array()},
    {"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", array({bulk("hello"), bulk("world")})},
    {"*3\r\n:1\r\n:2\r\n:3\r\n", array({integer(1), integer(2), integer(3)})},
    {"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n",
     array({integer(1), integer(2), integer(3), integer(4), bulk("hello")})},
    {"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
     array({array({integer(1), integer(2), integer(3)}), array({simple("Hello"), error("World")})})},
    {"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n", array({bulk("hello"), null_bulk(), bulk("world")})},
    {"*2\r\n*-1\r\n*0\r\n", array({null_array(), array({})})},
};

}  // namespace

TEST_CASE("resp: the spec's examples, in every split", "[resp]") {
  for (const auto& [bytes, expected] : spec_examples) check_reads(bytes, expected);
}

TEST_CASE("resp: values back to back in one feed, and across feeds", "[resp]") {
  std::string stream;
  std::vector<RespValue> expected;
  for (const auto& [bytes, value] : spec_examples) {
    stream += bytes;
    expected.push_back(value);
  }
  Read whole = read(stream);
  CHECK(whole.status == Status::need_more);
  CHECK(whole.values == expected);
  CHECK(read_bytewise(stream) == whole);
  for (size_t chunk : {2, 3, 7, 64})
    for (size_t at = 0; at < stream.size(); at += chunk) {
      std::string_view s(stream);
      CHECK(read_pieces({s.substr(0, at), s.substr(at, chunk), s.substr(std::min(at + chunk, s.size()))}) == whole);
    }
}

TEST_CASE("resp: bulk strings hold CR, LF, CRLF and NUL bytes", "[resp]") {
  check_reads("$2\r\n\r\n\r\n", bulk("\r\n"));
  check_reads(literal("$7\r\na\r\nb\0\r\r\r\n"), bulk(literal("a\r\nb\0\r\r")));
  check_reads(literal("$5\r\n$1\r\n*\r\n"), bulk(literal("$1\r\n*")));
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  check_reads("$256\r\n" + all + "\r\n", bulk(all));
  check_reads(literal("*2\r\n$3\r\n\0\0\0\r\n$4\r\n+OK\n\r\n"), array({bulk(literal("\0\0\0")), bulk("+OK\n")}));
}

TEST_CASE("resp: simple strings and errors keep every byte but CR and LF", "[resp]") {
  check_reads(literal("+a b\t\0\x7f\xff:$*\r\n"), simple(literal("a b\t\0\x7f\xff:$*")));
  check_reads("+\r\n", simple(""));
  check_reads("-\r\n", error(""));
}

TEST_CASE("resp: errors from Redis", "[resp]") {
  for (const char* text : {"ERR unknown command 'asdf'", "WRONGTYPE Operation against a key holding the wrong kind of value",
                           "NOAUTH Authentication required.", "LOADING Redis is loading the dataset in memory",
                           "ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                           "are allowed in this context"}) {
    std::string bytes = std::string("-") + text + "\r\n";
    check_reads(bytes, error(text));
    RespValue value = read(bytes).values.at(0);
    REQUIRE(ws::resp_error(value));
    CHECK(*ws::resp_error(value) == text);
    CHECK_FALSE(ws::resp_message(value));
    CHECK_FALSE(ws::resp_subscribed(value));
  }
  CHECK_FALSE(ws::resp_error(simple("ERR not an error")));
  CHECK_FALSE(ws::resp_error(bulk("ERR not an error")));
}

TEST_CASE("resp: integers, signed, to 64 bits", "[resp]") {
  check_reads(":9223372036854775807\r\n", integer(INT64_MAX));
  check_reads(":-9223372036854775808\r\n", integer(INT64_MIN));
  CHECK(read(":+5\r\n").values == std::vector{integer(5)});
  CHECK(read(":-0\r\n").values == std::vector{integer(0)});
  CHECK(read(":007\r\n").values == std::vector{integer(7)});
  for (const char* bad : {":\r\n", ":-\r\n", ":+\r\n", ":1.5\r\n", ": 1\r\n", ":1 \r\n", ":0x10\r\n", ":+-1\r\n",
                          ":--1\r\n", ":9223372036854775808\r\n", ":-9223372036854775809\r\n", ":abc\r\n"})
    check_bad(bad, "integer not a number");
}

TEST_CASE("resp: unknown type bytes, RESP3's among them", "[resp]") {
  for (const char* bad : {"?", "_\r\n", "#t\r\n", ",1.5\r\n", "%1\r\n", ">3\r\n", "~0\r\n", "PONG\r\n", " +OK\r\n", "\r\n"})
    check_bad_at(std::string_view(bad, 1), "unknown type byte");
  check_bad_at(literal("\0"), "unknown type byte");
  check_bad("*2\r\n:1\r\n!", "unknown type byte");
}

TEST_CASE("resp: lengths that are not numbers", "[resp]") {
  for (const char* bad : {"$\r", "$a", "$1a", "$ 5", "$+5", "$5 ", "*\r", "*x", "*1.", "$--", "$-\r", "*-\r",
                          "$1\n", "$\n"})
    check_bad_at(bad, "not a number");
  check_bad_at("$05", "leading zero");
  check_bad_at("*00", "leading zero");
  check_bad_at("$5\rX", "length not ended by CRLF");
}

TEST_CASE("resp: negative lengths other than -1 are refused", "[resp]") {
  for (const char* bad : {"$-2", "*-2", "$-0", "*-0", "$-10", "*-11", "$-9223372036854775808", "*-01"})
    check_bad_at(bad, "negative length other than -1");
}

TEST_CASE("resp: a line, bulk string or length not ended by CRLF", "[resp]") {
  check_bad_at("+OK\n", "line not ended by CRLF");
  check_bad_at("+OK\rX", "line not ended by CRLF");
  check_bad_at("-ERR a\nb", "line not ended by CRLF");
  check_bad_at(":1\r\r", "line not ended by CRLF");
  check_bad_at("$5\r\nhelloX", "bulk string not ended by CRLF");
  check_bad_at("$5\r\nhello\rX", "bulk string not ended by CRLF");
  check_bad_at("$5\r\nhello\n", "bulk string not ended by CRLF");
  // One byte longer than its length says.
  check_bad_at("$4\r\nhello\r\n", "bulk string not ended by CRLF");
}

TEST_CASE("resp: a bulk string over the limit is refused at its length, before its bytes", "[resp]") {
  ws::RespLimits limits;
  limits.max_bulk = 100;
  std::string at_limit = "$100\r\n" + std::string(100, 'x') + "\r\n";
  CHECK(read(at_limit, limits).values == std::vector{bulk(std::string(100, 'x'))});
  check_bad_at("$101", "bulk length over the limit", limits);
  check_bad_at("$1000", "bulk length over the limit", limits);
  check_bad_at("*1\r\n$101", "bulk length over the limit", limits);
  check_bad_at("$4294967296", "bulk length over the limit");
  check_bad_at("$99999999999999999999999999", "bulk length over the limit");
  // A limit as large as size_t leaves the parse to refuse what does not fit.
  limits.max_bulk = SIZE_MAX;
  check_bad_at("$99999999999999999999999999", "bulk length over the limit", limits);
}

TEST_CASE("resp: arrays over the element limit, nested ones counted together", "[resp]") {
  ws::RespLimits limits;
  limits.max_elements = 4;
  CHECK(read("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", limits).values.size() == 1);
  CHECK(read("*2\r\n*1\r\n:1\r\n:2\r\n", limits).values.size() == 1);
  check_bad_at("*5", "array length over the limit", limits);
  check_bad_at("*9223372036854775807", "array length over the limit", limits);
  check_bad_at("*99999999999999999999999999", "array length over the limit", limits);
  check_bad_at("*2\r\n*3", "array length over the limit", limits);
  check_bad_at("*3\r\n*1\r\n:1\r\n*1\r\n:2\r\n*1", "array length over the limit", limits);
  // The count starts again with each value.
  CHECK(read("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", limits).values.size() == 2);
}

TEST_CASE("resp: arrays nested deeper than the limit", "[resp]") {
  ws::RespLimits limits;
  limits.max_depth = 3;
  CHECK(read("*1\r\n*1\r\n*1\r\n:1\r\n", limits).values.size() == 1);
  CHECK(read("*1\r\n*1\r\n*0\r\n", limits).values.size() == 1);
  CHECK(read("*1\r\n*1\r\n*1\r\n*-1\r\n", limits).values.size() == 1);
  check_bad("*1\r\n*1\r\n*1\r\n*1\r\n", "nested deeper than the limit", limits);
  check_bad("*1\r\n*1\r\n*1\r\n*0\r\n", "nested deeper than the limit", limits);
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "*1\r\n";
  check_bad_at(deep, "nested deeper than the limit");
}

TEST_CASE("resp: a line longer than the limit is refused as it grows", "[resp]") {
  ws::RespLimits limits;
  limits.max_line = 8;
  CHECK(read("+12345678\r\n", limits).values == std::vector{simple("12345678")});
  check_bad_at("+123456789", "line longer than the limit", limits);
  check_bad_at("-123456789", "line longer than the limit", limits);
  check_bad_at(":123456789", "line longer than the limit", limits);
  check_bad_at("+" + std::string(4097, 'a'), "line longer than the limit");
}

TEST_CASE("resp: nothing is taken once bad, nor while a value waits to be taken", "[resp]") {
  ws::RespReader reader;
  CHECK(reader.feed("+OK\r\n+OK\r\n") == 5);
  CHECK(reader.feed("+OK\r\n") == 0);
  CHECK(reader.take() == simple("OK"));
  CHECK(reader.take() == RespValue{});
  CHECK(reader.feed("?+OK\r\n") == 1);
  CHECK(reader.status() == Status::bad);
  CHECK(reader.feed("+OK\r\n") == 0);
  CHECK(reader.take() == RespValue{});
  CHECK(reader.reason() == "unknown type byte");
}

TEST_CASE("resp: commands are arrays of bulk strings, binary-safe", "[resp]") {
  CHECK(ws::resp_command({"PING"}) == "*1\r\n$4\r\nPING\r\n");
  CHECK(ws::resp_command({"SUBSCRIBE", "wsserver"}) == "*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\nwsserver\r\n");
  CHECK(ws::resp_command({"PUBLISH", "ch", "hello world"}) == "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$11\r\nhello world\r\n");
  CHECK(ws::resp_command({"PUBLISH", "ch", ""}) == "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$0\r\n\r\n");
  std::string payload = literal("line\r\nnext\0\r*2\r\n$1\r\n");
  std::string big(100000, 'z');
  for (const std::string& p : {payload, big}) {
    std::string command = ws::resp_command({"PUBLISH", "room", p});
    CHECK(read(command).values == std::vector{array({bulk("PUBLISH"), bulk("room"), bulk(p)})});
    CHECK(split_failure(command.substr(0, 40)) == "");
  }
  std::vector<std::string_view> args = {"SUBSCRIBE", "a", "b"};
  CHECK(ws::resp_command(args) == "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST_CASE("resp: any value written out reads back the same", "[resp]") {
  RespValue value = array({simple("OK"), error("ERR x"), integer(INT64_MIN), bulk(literal("\r\n\0")), null_bulk(),
                           null_array(), array({}), array({array({integer(-1)}), bulk("")})});
  std::string bytes = ws::resp_encode(value);
  CHECK(read(bytes).values == std::vector{value});
  CHECK(split_failure(bytes) == "");
}

TEST_CASE("resp: a subscribe confirmation and a message, as Redis pushes them", "[resp]") {
  std::string stream = "*3\r\n$9\r\nsubscribe\r\n$8\r\nwsserver\r\n:1\r\n"
                       "*3\r\n$7\r\nmessage\r\n$8\r\nwsserver\r\n$13\r\n1 7 hi\r\nthere\r\n";
  Read pushes = read(stream);
  REQUIRE(pushes.values.size() == 2);
  auto subscribed = ws::resp_subscribed(pushes.values[0]);
  REQUIRE(subscribed);
  CHECK(subscribed->channel == "wsserver");
  CHECK(subscribed->count == 1);
  CHECK_FALSE(ws::resp_message(pushes.values[0]));
  auto message = ws::resp_message(pushes.values[1]);
  REQUIRE(message);
  CHECK(message->channel == "wsserver");
  CHECK(message->payload == "1 7 hi\r\nthere");
  CHECK_FALSE(ws::resp_subscribed(pushes.values[1]));
  CHECK(split_failure(stream) == "");
}

TEST_CASE("resp: shapes that are not a message or a confirmation", "[resp]") {
  for (const RespValue& v : {array({bulk("message"), bulk("ch")}),
                             array({bulk("message"), bulk("ch"), bulk("p"), bulk("extra")}),
                             array({simple("message"), bulk("ch"), bulk("p")}),
                             array({bulk("MESSAGE"), bulk("ch"), bulk("p")}),
                             array({bulk("message"), null_bulk(), bulk("p")}),
                             array({bulk("message"), bulk("ch"), integer(1)}),
                             array({bulk("pmessage"), bulk("c*"), bulk("ch")}), null_array(), bulk("message")})
    CHECK_FALSE(ws::resp_message(v));
  for (const RespValue& v : {array({bulk("subscribe"), bulk("ch"), bulk("1")}),
                             array({bulk("unsubscribe"), bulk("ch"), integer(0)}),
                             array({bulk("subscribe"), integer(1), integer(1)}), array({bulk("subscribe"), bulk("ch")})})
    CHECK_FALSE(ws::resp_subscribed(v));
  CHECK(ws::resp_message(array({bulk("message"), bulk(""), bulk("")})));
}

TEST_CASE("resp: PING's replies, plain and on a subscribed connection", "[resp]") {
  CHECK(ws::resp_is_pong(read("+PONG\r\n").values.at(0)));
  CHECK(ws::resp_is_pong(read("*2\r\n$4\r\npong\r\n$0\r\n\r\n").values.at(0)));
  CHECK_FALSE(ws::resp_is_pong(simple("OK")));
  CHECK_FALSE(ws::resp_is_pong(bulk("PONG")));
  CHECK_FALSE(ws::resp_is_pong(array({bulk("pong")})));
  CHECK_FALSE(ws::resp_is_pong(array({bulk("message"), bulk("")})));
}
