// target.hpp: the server's address, resolved once before the run.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "options.hpp"

namespace wsbench {

struct Target {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool tcp = true;
  std::string name;  // "127.0.0.1:9000", "[::1]:9000" or "unix:/path"
};

// Resolves --host/--port or --unix; nullopt with *error on failure.
std::optional<Target> resolve_target(const Options& options, std::string* error);

// A socket connecting to `target`: non-blocking unless `blocking`, close-on-exec,
// TCP_NODELAY for TCP. Returns -1 with errno set if it cannot be created.
int target_socket(const Target& target, bool blocking);

}  // namespace wsbench
