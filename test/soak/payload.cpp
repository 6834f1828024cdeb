#include "payload.hpp"

namespace soak {
namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

bool is_command(const std::string& m) {
  size_t b = 0, e = m.size();
  while (b < e && is_space(static_cast<unsigned char>(m[b]))) ++b;
  while (e > b && is_space(static_cast<unsigned char>(m[e - 1]))) --e;
  if (e - b != 4) return false;
  std::string w;
  for (size_t i = b; i < e; ++i) w += static_cast<char>(m[i] >= 'A' && m[i] <= 'Z' ? m[i] - 'A' + 'a' : m[i]);
  return w == "exit" || w == "quit";
}

}  // namespace

int uniform(Rng& rng, int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); }

bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }

void append_strip_replies(std::string_view sent, std::string& expected) {
  for (char c : sent) {
    if (c == '\n' || c == '\0') expected.push_back('\0');
    else if (!is_space(static_cast<unsigned char>(c))) expected.push_back(c);
  }
}

std::string random_message(Rng& rng, size_t length) {
  static const std::string spaces = " \t\v\f\r";
  static const char* utf8[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xd0\x96"};
  std::string m;
  m.reserve(length);
  while (m.size() < length) {
    int kind = uniform(rng, 0, 99);
    if (kind < 20) m += spaces[static_cast<size_t>(uniform(rng, 0, 4))];
    else if (kind < 80) m += static_cast<char>(uniform(rng, 33, 126));
    else if (kind < 90) m += utf8[uniform(rng, 0, 3)];
    else {
      char c = static_cast<char>(uniform(rng, 1, 255));
      m += c == '\n' ? 'n' : c;
    }
  }
  m.resize(length);
  if (is_command(m)) m += "!";
  return m;
}

size_t random_length(Rng& rng) {
  int kind = uniform(rng, 0, 99);
  if (kind < 5) return 0;
  if (kind < 75) return static_cast<size_t>(uniform(rng, 1, 80));
  if (kind < 97) return static_cast<size_t>(uniform(rng, 81, 4096));
  return static_cast<size_t>(uniform(rng, 4097, 70000));
}

char random_terminator(Rng& rng) { return chance(rng, 0.5) ? '\n' : '\0'; }

std::string random_exit_command(Rng& rng) {
  std::string word = chance(rng, 0.5) ? "exit" : "quit";
  for (auto& c : word)
    if (chance(rng, 0.3)) c = static_cast<char>(c - 'a' + 'A');
  std::string pad = chance(rng, 0.3) ? " \t" : "";
  return pad + word + (chance(rng, 0.3) ? " \r" : "") + random_terminator(rng);
}

}  // namespace soak
