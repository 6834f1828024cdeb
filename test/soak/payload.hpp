// payload.hpp: what the soak sends and what it must get back. The strip
// reply is computed here from the SPEC, independently of the server's code.
#pragma once

#include <random>
#include <string>
#include <string_view>

namespace soak {

using Rng = std::mt19937_64;

// The strip service's reply stream for `sent` (every message terminated):
// each byte of {space, \t, \n, \v, \f, \r} removed, LF and NUL ending a
// message turned into the NUL terminator, every other byte kept.
void append_strip_replies(std::string_view sent, std::string& expected);

// A message body of `length` bytes: no terminator (LF, NUL), white space,
// ASCII, UTF-8 and binary mixed; never a command (exit, quit).
std::string random_message(Rng& rng, size_t length);
// A length: mostly short, sometimes a few KiB, rarely tens of KiB.
size_t random_length(Rng& rng);
// LF or NUL.
char random_terminator(Rng& rng);
// "exit" or "quit" in any case, with white space around and a terminator.
std::string random_exit_command(Rng& rng);

int uniform(Rng& rng, int low, int high);
bool chance(Rng& rng, double p);

}  // namespace soak
