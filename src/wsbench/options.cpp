#include "options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "exit_status.hpp"

namespace wsbench {
namespace {

constexpr long long default_pingpong_count = 100000;
constexpr long long default_connrate_count = 10000;
constexpr long long default_chat_count = 1000;
constexpr double default_deadline = 60;
constexpr double ready_deadline = 10;
constexpr double drain_allowance = 10;  // seconds past --duration for replies in flight

const char* description =
    "wsbench: load generator for wsserver's strip and chat services.\n"
    "MODE is pingpong (persistent connections, one message at a time), connrate\n"
    "(connect, one message, reply, close), bulk (one large message streamed while\n"
    "its reply is read), ready (wait until the server answers one message), hold\n"
    "(all connections open at once, one message each, kept open until all are\n"
    "answered) or chat (the chat service's fan-out: every client sends, every\n"
    "other client must receive each message once, in one global order).\n"
    "Every reply is checked byte for byte. See wsbench(1).";

// Defaults that depend on the mode and on what else was given.
void settle(Options& o) {
  if (o.mode == Mode::bulk && o.count == 0) o.count = o.connections;
  if (o.mode == Mode::ready) o.count = 1;
  if (o.mode == Mode::hold) o.count = o.connections;
  if (o.mode == Mode::chat && o.count == 0) o.count = default_chat_count;
  // The chat mode's books live in one thread: no locks between receivers.
  if (o.mode == Mode::chat) o.threads = 1;
  if (o.count == 0 && o.duration == 0)
    o.count = o.mode == Mode::connrate ? default_connrate_count : default_pingpong_count;
  if (o.deadline == 0)
    o.deadline = o.mode == Mode::ready ? ready_deadline : o.duration > 0 ? o.duration + drain_allowance : default_deadline;
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (o.threads > o.connections) o.threads = o.connections;
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::connrate: return "connrate";
    case Mode::bulk: return "bulk";
    case Mode::ready: return "ready";
    case Mode::chat: return "chat";
    case Mode::hold: return "hold";
    case Mode::pingpong: break;
  }
  return "pingpong";
}

ParseOutcome parse_options(int argc, char** argv) {
  CLI::App app{description, "wsbench"};
  app.get_formatter()->column_width(30);
  Options o;
  std::string mode = "pingpong";
  app.add_option("mode", mode, "pingpong, connrate, bulk, ready, hold or chat")
      ->check(CLI::IsMember({"pingpong", "connrate", "bulk", "ready", "hold", "chat"}))->capture_default_str();
  app.add_option("-H,--host", o.host, "Server address (IPv4 or IPv6)")->capture_default_str();
  app.add_option("-p,--port", o.port, "Server port")->capture_default_str();
  app.add_option("-s,--unix", o.unix_path, "Unix socket path, instead of host and port");
  app.add_option("--also-port", o.also_ports, "chat: ports of more instances on the same host (chat bus); "
                 "the clients are spread over all ports")->expected(1, CLI::detail::expected_max_vector_size);
  app.add_option("-c,--connections", o.connections, "Connections at once")
      ->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("-S,--size", o.size, "Message bytes (pingpong, connrate, ready, hold, chat)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))->capture_default_str();
  app.add_option("-B,--bulk-mib", o.bulk_mib, "Bulk message size in MiB")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))->capture_default_str();
  app.add_option("-n,--count", o.count,
                 "Messages (pingpong), connections (connrate) or bulk messages in all; "
                 "chat: messages per client; default 100000, 10000, one per connection, 1000")
      ->check(CLI::Range(1LL, 1LL << 50));
  app.add_option("-d,--duration", o.duration, "Seconds to start new messages for, instead of a count")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--deadline", o.deadline,
                 "Hard limit in seconds: what has not finished then is abandoned "
                 "(default 60, or duration + 10; ready: 10)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("-t,--threads", o.threads, "Client threads (default: one per CPU)")->check(CLI::Range(1, 1024));
  app.add_flag("--json", o.json, "Print one JSON object instead of the text report");
  app.add_flag("-q,--quiet", o.quiet, "No progress line, even on a terminal");
  app.add_option("--seed", o.seed, "Seed of the message contents")->capture_default_str();
  app.add_option("--since", o.since, "ready: count from this time (epoch seconds, as bash's $EPOCHREALTIME)");
  app.add_option("--kill", o.kill_pid, "ready: send SIGKILL to this pid first and count from then (a respawn)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("-w,--window", o.window, "chat: a client's messages not yet delivered to every other client")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_option("-r,--rate", o.rate, "chat: messages per second per client (default: as fast as the window allows)")
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("--reply-terminator", o.reply_terminator, "chat: the server's reply_terminator")
      ->check(CLI::IsMember({"nul", "lf", "crlf"}))->capture_default_str();
  app.add_flag("-W,--websocket", o.websocket,
               "pingpong, connrate: speak WebSocket to a ws: listener (handshake, then one binary frame per message)");
  app.set_version_flag("-V,--version", "wsbench 1.0");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return {std::nullopt, exit_status::ok};
  } catch (const CLI::CallForVersion& e) {
    std::puts(e.what());
    return {std::nullopt, exit_status::ok};
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "wsbench: %s\n", e.what());
    return {std::nullopt, exit_status::usage};
  }
  o.mode = mode == "connrate" ? Mode::connrate
           : mode == "bulk"   ? Mode::bulk
           : mode == "ready"  ? Mode::ready
           : mode == "hold"   ? Mode::hold
           : mode == "chat"   ? Mode::chat
                              : Mode::pingpong;
  if (o.duration > 0 && o.mode != Mode::pingpong && o.mode != Mode::connrate) {
    std::fprintf(stderr, "wsbench: --duration: %s runs by count only\n", mode_name(o.mode));
    return {std::nullopt, exit_status::usage};
  }
  if (o.websocket && o.mode != Mode::pingpong && o.mode != Mode::connrate) {
    std::fprintf(stderr, "wsbench: --websocket: only pingpong and connrate speak WebSocket\n");
    return {std::nullopt, exit_status::usage};
  }
  // Message ids are 32-bit: sender * count + sequence.
  if (o.mode == Mode::chat && (o.connections < 2 || o.count * o.connections > (1LL << 31))) {
    std::fprintf(stderr, "wsbench: chat needs 2 or more clients and at most 2^31 messages in all\n");
    return {std::nullopt, exit_status::usage};
  }
  settle(o);
  return {o, exit_status::ok};
}

}  // namespace wsbench
