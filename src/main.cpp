// wsserver: a pre-forking socket server daemon. See wsserver(8).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "wsserver/cli.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/log.hpp"
#include "wsserver/master.hpp"
#include "wsserver/signals.hpp"

namespace {

std::string current_directory() {
  std::vector<char> buf(4096);
  return getcwd(buf.data(), buf.size()) ? std::string(buf.data()) : std::string("/");
}

// Handles -V, -h and command-line errors; returns the options to run with.
ws::Options parse_or_exit(const std::vector<std::string>& args) {
  ws::CliOutcome outcome = ws::parse_command_line(args, current_directory(), geteuid() == 0);
  if (outcome.proceed) return std::move(outcome.options);
  if (outcome.exit_code == ws::exit_code::ok) {
    std::fputs(outcome.message.c_str(), stdout);
    if (!outcome.message.empty() && outcome.message.back() != '\n') std::fputc('\n', stdout);
  } else {
    std::fprintf(stderr, "wsserver: %s\n", outcome.message.c_str());
  }
  std::exit(outcome.exit_code);
}

void open_logs(const ws::Config& config) {
  std::string error;
  if (!ws::log::open({config.log_file.empty() ? "stderr" : config.log_file, config.log_level}, &error) ||
      !ws::log::open_access(config.access_log, &error))
    ws::log::fatal(ws::exit_code::cant_create, "%s", error.c_str());
}

std::vector<ws::Listener> bind_listeners(const ws::Config& config) {
  std::vector<ws::Listener> listeners;
  for (const auto& text : config.listen) {
    std::string error;
    auto address = ws::parse_listen_address(text, &error);
    auto listener = address ? ws::open_listener(*address, config.backlog, &error) : std::nullopt;
    if (!listener) ws::log::fatal(ws::exit_code::os_error, "%s", error.c_str());
    listeners.push_back(std::move(*listener));
  }
  return listeners;
}

}  // namespace

int main(int argc, char** argv) {
  // A client that disconnects mid-write must never kill a process.
  ws::signals::ignore({SIGPIPE});
  // Held until the master waits, so no signal is lost during start-up.
  ws::signals::block(ws::master_signal_set());

  std::vector<std::string> args(argv + 1, argv + argc);
  ws::Options options = parse_or_exit(args);
  if (options.test_config) {
    std::puts("configuration ok");
    return ws::exit_code::ok;
  }
  open_logs(options.config);
  std::vector<ws::Listener> listeners = bind_listeners(options.config);
  ws::Master master(std::move(options), std::move(args), std::move(listeners));
  return master.run();
}
