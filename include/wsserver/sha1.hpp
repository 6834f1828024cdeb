// sha1.hpp: SHA-1 (FIPS 180-4, RFC 3174), for the WebSocket handshake's
// Sec-WebSocket-Accept (RFC 6455 section 4.2.2) and nothing else: SHA-1 is
// broken for signatures, and the handshake uses it only to prove that the
// server read the key.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ws {

std::array<uint8_t, 20> sha1(std::string_view message);

}  // namespace ws
