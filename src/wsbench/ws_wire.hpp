// ws_wire.hpp: wsbench's WebSocket client side (RFC 6455), for --websocket:
// the opening handshake, and each message as one masked binary frame whose
// reply is one binary frame (binary, as the messages hold bytes >= 0x80
// that are not UTF-8 text).
#pragma once

#include <cstdint>
#include <string>

#include "payload.hpp"

namespace wsbench {

// `plain` (one body, no repeats) as its frame: Exchange sends `body` and
// then `terminator`, and expects `reply` and then `reply_end`, so the frame
// is split before its last byte both ways. The mask comes from `seed`: a
// benchmark's own traffic needs no unpredictable mask, only a masked frame.
Message websocket_message(const Message& plain, uint64_t seed);

// Sends the handshake on `fd` (connected, or connecting when non-blocking)
// and reads the server's answer, which must be 101 with the
// Sec-WebSocket-Accept that RFC 6455 section 4.2.2 computes, and nothing
// after it. False with *error by `deadline_ns` otherwise.
bool websocket_upgrade(int fd, const std::string& host, uint64_t seed, int64_t deadline_ns, std::string* error);

}  // namespace wsbench
