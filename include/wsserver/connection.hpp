// connection.hpp: serving one accepted client over a blocking socket until
// it leaves, and ending the connection without losing replies.
#pragma once

#include <cstdint>
#include <string>

#include "wsserver/auth_limit.hpp"
#include "wsserver/client_io.hpp"
#include "wsserver/config.hpp"
#include "wsserver/scoreboard.hpp"
#include "wsserver/service.hpp"

namespace ws {

struct ConnectionTotals {
  uint64_t in = 0, out = 0, messages = 0;
};

// What a worker lends each connection; reused from one client to the next.
struct ConnectionContext {
  const Config* config;
  Service* service;
  WorkerSlot* slot;
  const std::string* secret;  // null: no authentication
  size_t max_message;         // max_message, or less if the chat ring holds less
  char* buffer;
  size_t buffer_size;
  std::string* out;
  uint64_t client_id;  // unique per connection (chat uses it to skip the sender)
  AuthLimit* auth_limit = nullptr;  // failed AUTHs per address, shared by the workers
  IpAddress peer{};                 // the client's address (AF_UNSPEC on a unix socket)
};

// Serves the client on `fd` (blocking, close-on-exec) and closes it; a
// client from an address refused for failed AUTHs is closed at once.
CloseReason serve_connection(int fd, const ConnectionContext& context, ConnectionTotals* totals);

// Sends a one-line notice without blocking and closes (refused clients).
void refuse_connection(int fd, std::string_view notice, std::string_view terminator);

}  // namespace ws
