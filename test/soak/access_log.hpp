// access_log.hpp: what a server's access log says about one connection,
// so that a close the server chose (a chat client cut at chat_backlog, the
// notice lost in its full buffers) is told apart from one it should not
// have made.
#pragma once

#include <chrono>
#include <string>

#include "wire.hpp"

namespace soak {

// True if `path` has a line for a connection of `key` that closed for
// `reason` between `from` and `to` (wall clock). Unix clients all log as
// "unix": for them the time alone decides.
bool access_log_has(const std::string& path, const ClientKey& key, const std::string& reason,
                    std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to);

// The same, waiting up to `within` for the line: a server that cuts a client
// writes its line only after the close (which may linger a second or two),
// while the client sees its end at once.
bool await_access_log(const std::string& path, const ClientKey& key, const std::string& reason,
                      std::chrono::system_clock::time_point from, std::chrono::milliseconds within);

}  // namespace soak
