// wsbench: a load generator for wsserver's strip and chat services. See wsbench(1).
#include <signal.h>

#include <cstdio>

#include "chat_report.hpp"
#include "chat_run.hpp"
#include "engine.hpp"
#include "exit_status.hpp"
#include "fd_limit.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "ready.hpp"
#include "ws_wire.hpp"
#include "report.hpp"
#include "target.hpp"

using namespace wsbench;

namespace {

constexpr size_t distinct_messages = 251;  // prime: connections do not fall into step
constexpr long spare_descriptors = 64;     // stdio, epoll instances, what libc opens

extern "C" void on_interrupt(int) { request_stop(); }

void install_signals() {
  // A server that closes mid-write must show up as an error, never kill us.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  // A second Ctrl-C kills at once, for a run stuck until its deadline.
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::vector<Message> messages_for(const Options& o) {
  if (o.mode == Mode::bulk) return {make_bulk_message(o.bulk_mib << 20, o.seed)};
  auto messages = make_messages(o.size, distinct_messages, o.seed);
  if (o.websocket)
    for (size_t i = 0; i < messages.size(); ++i) messages[i] = websocket_message(messages[i], o.seed + i);
  return messages;
}

int run_ready(const Options& options, const Target& target) {
  ReadyResult result = wait_ready(options, target);
  print_ready(options, target, result);
  return result.answered ? exit_status::ok : exit_status::errors;
}

int run_chat_mode(const Options& options, const Target& target) {
  ChatResult result = run_chat(options, target);
  if (!result.error.empty()) {
    std::fprintf(stderr, "wsbench: %s\n", result.error.c_str());
    return exit_status::os_error;
  }
  if (options.json) print_chat_json(options, target, result);
  else print_chat_report(options, target, result);
  return result.joined && result.errors() == 0 ? exit_status::ok : exit_status::errors;
}

int run_load(const Options& options, const Target& target) {
  std::vector<Message> messages = messages_for(options);
  RunShape shape{&options, &target, messages.front().wire_size()};
  Engine engine(options, target, std::move(messages));
  ProgressLine progress(options);
  std::string error;
  if (!engine.start(&error)) {
    std::fprintf(stderr, "wsbench: %s\n", error.c_str());
    return exit_status::os_error;
  }
  while (!engine.wait(std::chrono::seconds(1))) progress.update(engine);
  progress.clear();
  RunResult result = engine.finish();
  if (!result.error.empty()) std::fprintf(stderr, "wsbench: %s\n", result.error.c_str());
  if (options.json) print_json(shape, result);
  else print_report(shape, result);
  bool clean = result.error.empty() && result.tally.errors() == 0 && result.tally.unanswered == 0;
  return clean ? exit_status::ok : exit_status::errors;
}

}  // namespace

int main(int argc, char** argv) {
  ParseOutcome parsed = parse_options(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  const Options& options = *parsed.options;
  install_signals();
  std::string error;
  auto target = resolve_target(options, &error);
  if (!target) {
    std::fprintf(stderr, "wsbench: %s\n", error.c_str());
    return exit_status::usage;
  }
  if (!ensure_fd_limit(options.connections + spare_descriptors, &error)) {
    std::fprintf(stderr, "wsbench: %s\n", error.c_str());
    return exit_status::os_error;
  }
  if (options.mode == Mode::ready) return run_ready(options, *target);
  if (options.mode == Mode::chat) return run_chat_mode(options, *target);
  return run_load(options, *target);
}
