// strip-speed: the strip loop alone, without sockets, to compare with what
// loopback carries. Prints MiB/s for strip_append on its own, and for the
// whole session (framing + strip) on one long message and on 64-byte ones.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "../support/replies.hpp"
#include "wsserver/session.hpp"
#include "wsserver/strip.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Letters with every white-space byte and some bytes >= 0x80, as wsbench sends.
std::string mixed_text(size_t size, bool with_terminators) {
  std::mt19937 rng(7);
  const std::string alphabet = "abcdefghij \t\v\f\r\x80\xc3\xa9klmnopq";
  std::string s(size, 'x');
  for (size_t i = 0; i < size; ++i) s[i] = alphabet[rng() % alphabet.size()];
  if (with_terminators)
    for (size_t i = 63; i < size; i += 64) s[i] = '\n';
  return s;
}

template <typename Body>
double mib_per_s(size_t bytes_per_round, Body body) {
  size_t rounds = 0;
  auto start = Clock::now();
  std::chrono::duration<double> spent{};
  do {
    body();
    ++rounds;
    spent = Clock::now() - start;
  } while (spent.count() < 1.0);
  return static_cast<double>(bytes_per_round * rounds) / (1 << 20) / spent.count();
}

double session_speed(const std::string& input) {
  auto service = ws::make_service(ws::ServiceKind::strip, {});
  ws::Session session(*service, {65536});
  test::Output out;
  return mib_per_s(input.size(), [&] {
    for (size_t at = 0; at < input.size(); at += 65536) {
      out.replies.clear();
      session.receive(std::string_view(input).substr(at, 65536), out);
    }
  });
}

}  // namespace

int main() {
  const size_t size = 64 << 20;
  std::string long_message = mixed_text(size, false), short_messages = mixed_text(size, true);
  std::string out;
  out.reserve(65536);
  double strip = mib_per_s(size, [&] {
    for (size_t at = 0; at < size; at += 65536) {
      out.clear();
      ws::strip_append(std::string_view(long_message).substr(at, 65536), out);
    }
  });
  std::printf("strip_append alone                    %8.0f MiB/s\n", strip);
  std::printf("session, one long message             %8.0f MiB/s\n", session_speed(long_message));
  std::printf("session, 64-byte messages             %8.0f MiB/s\n", session_speed(short_messages));
  return 0;
}
