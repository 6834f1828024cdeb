// base64.hpp: base64 with the standard alphabet and padding (RFC 4648
// section 4), for the WebSocket handshake's key and accept values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ws {

std::string base64_encode(std::string_view bytes);
// Strict: the length a multiple of 4, padding only at the end, no white
// space, and the bits that padding leaves over zero (section 3.5), so each
// text decodes from exactly one encoding. nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ws
