// libFuzzer target: the JSON access log record (access_log.hpp) and its
// string escaping (json.hpp). Whatever bytes the record's strings hold:
// - the line is one line (no LF or CR), valid UTF-8, and a strict JSON
//   reader finds exactly the record's eight fields in it;
// - a string that was valid UTF-8 reads back as the very same bytes.
//
// Input: up to the first NUL is the client; the rest is the reason.
#include <cstdint>
#include <string>
#include <string_view>

#include "wsserver/access_log.hpp"
#include "wsserver/utf8.hpp"

#include "../support/json_check.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string client(input.substr(0, nul));
  std::string_view reason = nul == input.npos ? std::string_view() : input.substr(nul + 1);
  ws::AccessRecord record{1795979045123, client, 1, 2, 3, 4, 5, reason};
  std::string line = ws::format_access_record(record, ws::AccessLogFormat::json);
  FUZZ_CHECK(line.find('\n') == std::string::npos && line.find('\r') == std::string::npos);
  auto fields = test::read_flat_json(line);
  FUZZ_CHECK(fields && fields->size() == 8);
  FUZZ_CHECK((*fields)[1].first == "client" && (*fields)[7].first == "reason");
  if (ws::valid_utf8(client)) FUZZ_CHECK((*fields)[1].second == client);
  if (ws::valid_utf8(reason)) FUZZ_CHECK((*fields)[7].second == reason);
  return 0;
}
