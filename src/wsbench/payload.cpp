#include "payload.hpp"

#include <algorithm>

namespace wsbench {
namespace {

// xorshift64*: deterministic across runs and platforms, so a failing run can
// be repeated with the same bytes (--seed).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

constexpr std::string_view letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// White space that may appear inside a message: LF would end it.
constexpr std::string_view inner_spaces = " \t\v\f\r";
// Two-byte UTF-8 (é, ÿ) and bytes that are never valid UTF-8 alone.
constexpr std::string_view high_bytes = "\xC3\xA9\xC3\xBF\x80\xFF";
// A first byte that is not white space and cannot begin "exit" or "quit".
constexpr std::string_view first_bytes = "abcdfghijklmnoprstuvwxyzABCDFGHIJKLMNOPRSTUVWXYZ";

char random_byte(Rng& rng) {
  size_t roll = rng.below(100);
  if (roll < 20) return inner_spaces[rng.below(inner_spaces.size())];
  if (roll < 26) return high_bytes[rng.below(high_bytes.size())];
  return letters[rng.below(letters.size())];
}

std::string make_text(size_t size, Rng& rng) {
  std::string text(size, '\0');
  for (auto& c : text) c = random_byte(rng);
  if (size > 0) text[0] = first_bytes[rng.below(first_bytes.size())];
  // Every white-space byte and a high byte at least once when there is room.
  std::string must = std::string(inner_spaces) + "\xFF";
  if (size > must.size())
    for (char c : must) text[1 + rng.below(size - 1)] = c;
  return text;
}

}  // namespace

std::string expected_reply(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case ' ': case '\t': case '\n': case '\v': case '\f': case '\r': break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::vector<Message> make_messages(size_t size, size_t how_many, uint64_t seed) {
  Rng rng(seed);
  std::vector<Message> messages(how_many);
  for (size_t i = 0; i < how_many; ++i) {
    messages[i].body = make_text(size, rng);
    messages[i].terminator = i % 2 ? '\0' : '\n';
    messages[i].reply = expected_reply(messages[i].body);
  }
  return messages;
}

Message make_bulk_message(uint64_t bytes, uint64_t seed) {
  constexpr size_t pattern = 64 * 1024;
  Rng rng(seed);
  Message m;
  m.body = make_text(pattern, rng);
  m.repeats = std::max<uint64_t>(1, bytes / pattern);
  m.terminator = '\n';
  m.reply = expected_reply(m.body);
  return m;
}

}  // namespace wsbench
