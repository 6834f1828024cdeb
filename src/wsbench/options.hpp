// options.hpp: wsbench's command line (CLI11) and the run it describes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsbench {

enum class Mode { pingpong, connrate, bulk, ready, chat, hold };
const char* mode_name(Mode mode);

struct Options {
  Mode mode = Mode::pingpong;
  std::string host = "127.0.0.1";
  uint16_t port = 9000;
  std::vector<uint16_t> also_ports;  // chat: more instances on the same host; client i uses port i mod all
  std::string unix_path;  // set: connect there instead of host:port
  int connections = 1;
  size_t size = 64;            // pingpong and connrate message bytes
  uint64_t bulk_mib = 64;      // bulk message MiB
  long long count = 0;         // messages, connections or bulk messages in all; chat: per client
  double duration = 0;         // seconds; 0 = run by count
  double deadline = 0;         // hard limit in seconds, drain included
  int threads = 0;             // 0 = one per CPU, at most one per connection
  bool json = false;
  bool quiet = false;          // no progress line
  uint64_t seed = 1;
  double since = 0;            // ready: epoch seconds the measured wait began
  int kill_pid = 0;            // ready: SIGKILL this process, then time from there
  int window = 8;              // chat: a client's messages not yet delivered to every other
  double rate = 0;             // chat: messages per second per client; 0 = as the window allows
  std::string reply_terminator = "nul";  // chat: what the server ends deliveries with
  bool websocket = false;                // pingpong, connrate: speak WebSocket (a ws: listener)
};

// The parsed options, or the exit status to leave with (after printing help,
// the version or the error).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
};

ParseOutcome parse_options(int argc, char** argv);

}  // namespace wsbench
