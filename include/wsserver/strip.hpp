// strip.hpp: the strip service's byte rule, apart from the service so that
// tests, benchmarks and the reference server share the one implementation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ws {

// Space, \t, \n, \v, \f and \r are dropped; every other byte passes.
bool is_strip_space(unsigned char c);
// Appends `in` without its white space to `out`; returns the bytes appended.
// Uses SSSE3 where the CPU has it.
size_t strip_append(std::string_view in, std::string& out);
// The same with the portable loop only (the reference in tests).
size_t strip_append_portable(std::string_view in, std::string& out);

}  // namespace ws
