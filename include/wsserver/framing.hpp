// framing.hpp: where messages end in a chunk of bytes: at LF or NUL.
#pragma once

#include <algorithm>
#include <cstring>
#include <string_view>

namespace ws {

// Finds terminators in one chunk with memchr (vectorised in glibc). Each of
// LF and NUL is searched for only past its previous hit, so a chunk with many
// NULs and one distant LF (or the reverse) is still scanned once.
class TerminatorScan {
 public:
  explicit TerminatorScan(std::string_view bytes) : bytes_(bytes) {}

  // The first terminator at or after `from` (calls must not go backwards),
  // or npos.
  size_t next(size_t from) {
    if (!searched_ || next_lf_ < from) next_lf_ = find(from, '\n');
    if (!searched_ || next_nul_ < from) next_nul_ = find(from, '\0');
    searched_ = true;
    return std::min(next_lf_, next_nul_);
  }

 private:
  size_t find(size_t from, char c) const {
    const void* hit = std::memchr(bytes_.data() + from, c, bytes_.size() - from);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - bytes_.data()) : std::string_view::npos;
  }

  std::string_view bytes_;
  // The next of each at or after the last `from`; npos: none left.
  size_t next_lf_ = 0, next_nul_ = 0;
  bool searched_ = false;
};

}  // namespace ws
