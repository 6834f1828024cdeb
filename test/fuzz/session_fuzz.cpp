// libFuzzer target: framing and commands (ws::Session with the strip or echo
// service, with or without a secret). Properties, from SPEC section 1:
// - the replies, the leave and the AUTH outcome do not depend on how TCP
//   split the bytes: the stream fed in the fuzzer's chunks and fed whole
//   gives the same result;
// - every reply and notice ends with the terminator, and a strip reply to
//   user text holds no white space (only notices may);
// - memory stays bounded: the session never holds more than max_message
//   bytes, and the output grows by at most a notice per terminator beyond
//   the input's own bytes.
//
// Input: byte 0 picks the set-up (bit 0: the secret "s3cret word" is
// configured; bits 1-2: the reply terminator; bit 3: echo instead of strip;
// bits 4-7: max_message is 2 to that power); byte 1 % 32 is the number of
// chunk sizes that follow (each byte + 1, used in turn); the rest is the
// stream the client sends before it closes.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../support/replies.hpp"
#include "wsserver/session.hpp"
#include "wsserver/strip.hpp"

#include "fuzz_check.hpp"

namespace {

const std::string secret = "s3cret word";
constexpr int max_auth_failures = 3;  // as src/connection.cpp closes
// The longest notice plus the longest terminator, with room to spare.
constexpr size_t per_message_overhead = 40;
const std::string_view notices[] = {"OK", "ERR authentication required", "ERR authentication failed",
                                    "ERR message too long"};

struct Setup {
  bool auth = false;
  ws::Terminator terminator = ws::Terminator::nul;
  ws::ServiceKind kind = ws::ServiceKind::strip;
  size_t max_message = 1;
};

struct Outcome {
  std::string out;
  bool left = false;               // exit or quit
  bool closed_for_auth = false;    // the third wrong secret
  bool closed_unauthenticated = false;  // the last message answered before AUTH
  int auth_failures = 0;
  bool authenticated = false;
  uint64_t messages = 0;

  bool operator==(const Outcome&) const = default;
};

// Feeds the session as src/connection.cpp does (without the sockets and the
// delay): a wrong secret gets its notice and the rest of the bytes go on.
class Client {
 public:
  explicit Client(const Setup& setup)
      : setup_(setup),
        service_(ws::make_service(setup.kind, {})),
        session_(*service_, {setup.max_message, setup.auth ? &secret : nullptr}),
        out_(setup.terminator) {}

  // False once the connection is over.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ws::Session::Result r = session_.receive(bytes, out_);
      FUZZ_CHECK(r.consumed > 0 && r.consumed <= bytes.size());
      FUZZ_CHECK(session_.held_bytes() <= setup_.max_message);
      bytes.remove_prefix(r.consumed);
      if (r.step == ws::Session::Step::auth_failed) session_.notice("ERR authentication failed", out_);
      if (r.step == ws::Session::Step::leave) return !(outcome_.left = true);
      if (r.step == ws::Session::Step::unauthenticated) return !(outcome_.closed_unauthenticated = true);
      if (session_.auth_failures() >= max_auth_failures) return !(outcome_.closed_for_auth = true);
    }
    return true;
  }

  Outcome close() {
    if (!outcome_.left && !outcome_.closed_for_auth && !outcome_.closed_unauthenticated) {
      ws::Session::Step step = session_.finish(out_);
      if (step == ws::Session::Step::auth_failed) session_.notice("ERR authentication failed", out_);
      outcome_.left = step == ws::Session::Step::leave;
    }
    outcome_.out = out_.text();
    outcome_.auth_failures = session_.auth_failures();
    outcome_.authenticated = session_.authenticated();
    outcome_.messages = session_.messages();
    return outcome_;
  }

 private:
  Setup setup_;
  std::unique_ptr<ws::Service> service_;
  ws::Session session_;
  test::Output out_;
  Outcome outcome_;
};

Outcome run_in_chunks(const Setup& setup, std::string_view stream, const std::vector<size_t>& sizes) {
  Client client(setup);
  for (size_t i = 0; !stream.empty(); ++i) {
    size_t n = std::min(sizes.empty() ? stream.size() : sizes[i % sizes.size()], stream.size());
    if (!client.send(stream.substr(0, n))) break;
    stream.remove_prefix(n);
  }
  return client.close();
}

bool has_strip_space(std::string_view record) {
  return std::any_of(record.begin(), record.end(), [](char c) { return ws::is_strip_space(static_cast<unsigned char>(c)); });
}

bool is_notice(std::string_view record) {
  return std::find(std::begin(notices), std::end(notices), record) != std::end(notices);
}

void check_replies(const Setup& setup, std::string_view stream, const Outcome& o) {
  std::string_view terminator = ws::terminator_bytes(setup.terminator);
  size_t terminators = static_cast<size_t>(std::count(stream.begin(), stream.end(), '\n') +
                                           std::count(stream.begin(), stream.end(), '\0'));
  FUZZ_CHECK(o.out.size() <= stream.size() + (terminators + 1) * per_message_overhead);
  std::string_view out = o.out;
  FUZZ_CHECK(out.empty() || out.substr(out.size() - std::min(out.size(), terminator.size())) == terminator);
  if (setup.kind != ws::ServiceKind::strip) return;
  // A strip reply cannot hold a terminator byte, so the terminator splits records.
  while (!out.empty()) {
    size_t end = out.find(terminator);
    FUZZ_CHECK(end != std::string_view::npos);
    std::string_view record = out.substr(0, end);
    FUZZ_CHECK(is_notice(record) || !has_strip_space(record));
    out.remove_prefix(end + terminator.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Setup setup;
  setup.auth = data[0] & 1;
  setup.terminator = static_cast<ws::Terminator>(((data[0] >> 1) & 3) % 3);
  setup.kind = data[0] & 8 ? ws::ServiceKind::echo : ws::ServiceKind::strip;
  setup.max_message = size_t{1} << (data[0] >> 4);
  size_t count = std::min<size_t>(data[1] % 32, size - 2);
  std::vector<size_t> sizes(data + 2, data + 2 + count);
  for (auto& s : sizes) s += 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2 + count, size - 2 - count);

  Outcome chunked = run_in_chunks(setup, stream, sizes);
  Outcome whole = run_in_chunks(setup, stream, {});
  FUZZ_CHECK(chunked == whole);
  check_replies(setup, stream, chunked);
  return 0;
}
