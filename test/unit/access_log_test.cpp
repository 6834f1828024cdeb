// The access log's records (access_log.hpp) and the JSON escaping under them
// (json.hpp): the text line as it always was, and JSON that a strict reader
// parses back to the very bytes, whatever a value holds.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "wsserver/access_log.hpp"
#include "wsserver/close_reason.hpp"
#include "wsserver/json.hpp"
#include "wsserver/utf8.hpp"

#include "../support/json_check.hpp"

namespace {

ws::AccessRecord sample(std::string client = "127.0.0.1:5000") {
  // 2026-11-29T19:04:05.123Z
  return {1795979045123, std::move(client), 4242, 1500, 3, 12, 9, "client-closed"};
}

std::string field(const test::JsonFields& fields, const std::string& key) {
  for (const auto& [k, v] : fields)
    if (k == key) return v;
  return "(absent)";
}

}  // namespace

TEST_CASE("access log: the text record is the line it always was") {
  CHECK(ws::format_access_record(sample(), ws::AccessLogFormat::text) ==
        "127.0.0.1:5000 4242 1.500 3 12 9 client-closed");
}

TEST_CASE("access log: a JSON record has every field, parsed back by a strict reader") {
  std::string line = ws::format_access_record(sample(), ws::AccessLogFormat::json);
  CHECK(line ==
        "{\"time\":\"2026-11-29T19:04:05.123Z\",\"client\":\"127.0.0.1:5000\",\"pid\":4242,\"duration\":1.500,"
        "\"messages\":3,\"bytes_in\":12,\"bytes_out\":9,\"reason\":\"client-closed\"}");
  auto fields = test::read_flat_json(line);
  REQUIRE(fields);
  CHECK(fields->size() == 8);
  CHECK(field(*fields, "client") == "127.0.0.1:5000");
  CHECK(field(*fields, "reason") == "client-closed");
}

TEST_CASE("json: quotes, backslashes and control bytes are escaped") {
  CHECK(ws::json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(ws::json_string("\n\r\t") == "\"\\n\\r\\t\"");
  CHECK(ws::json_string(std::string("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
  CHECK(ws::json_string("\",\"pid\":1,\"x\":\"") == "\"\\\",\\\"pid\\\":1,\\\"x\\\":\\\"\"");
}

TEST_CASE("json: valid UTF-8 passes, invalid bytes become U+FFFD, line separators are escaped") {
  CHECK(ws::json_string("héllo €𝄞") == "\"héllo €𝄞\"");
  CHECK(ws::json_string("a\xff" "b") == "\"a\\ufffdb\"");
  CHECK(ws::json_string("\xc0\xaf") == "\"\\ufffd\\ufffd\"");           // overlong '/'
  CHECK(ws::json_string("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(ws::json_string("\xe2\x82") == "\"\\ufffd\\ufffd\"");           // cut short
  CHECK(ws::json_string("\xe2\x80\xa8\xe2\x80\xa9") == "\"\\u2028\\u2029\"");
}

TEST_CASE("json: random bytes always give one valid string that reads back") {
  std::mt19937 random(17);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(random() % 40, '\0');
    for (auto& b : bytes) b = static_cast<char>(random() % 256);
    std::string client = bytes;
    auto record = sample(client);
    std::string line = ws::format_access_record(record, ws::AccessLogFormat::json);
    INFO("round " << round);
    REQUIRE(line.find('\n') == std::string::npos);
    auto fields = test::read_flat_json(line);
    REQUIRE(fields);
    REQUIRE(fields->size() == 8);
    if (ws::valid_utf8(bytes)) CHECK(field(*fields, "client") == bytes);
  }
}

// Found by make asan after the merges: close_reason_count still named the
// last reason of before, and a worker counting a ws: or proxy: close wrote
// past the scoreboard's array.
TEST_CASE("close reasons: every reason has a name, and close_reason_count covers them all") {
  for (size_t i = 0; i < ws::close_reason_count; ++i)
    CHECK(std::string(ws::close_reason_name(static_cast<ws::CloseReason>(i))) != "?");
  CHECK(std::string(ws::close_reason_name(static_cast<ws::CloseReason>(ws::close_reason_count))) == "?");
}
