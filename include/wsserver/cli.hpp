// cli.hpp: the command line and the config file, both through CLI11, into an
// Options value. Every config key is also a --KEY option that overrides the
// file. Errors name the file, line and key (exit 78) or the option (exit 64).
#pragma once

#include <string>
#include <vector>

#include "wsserver/config.hpp"

namespace ws {

struct Options {
  Config config;
  std::string config_path;    // the file read, or empty when none was
  bool daemon = false;
  bool test_config = false;
  std::string signal_action;  // -s: stop, quit, reload, reopen, status or upgrade
  bool json = false;
};

struct CliOutcome {
  bool proceed = false;  // false: print `message` and exit with `exit_code`
  int exit_code = 0;
  std::string message;   // error line, help or version text
  Options options;
};

// `args` excludes the program name. `cwd` makes relative paths absolute.
CliOutcome parse_command_line(const std::vector<std::string>& args, const std::string& cwd, bool as_root);

// `args` with the file of -c/--config made absolute against `cwd`: a reload
// parses them again, maybe after -d changed to /.
std::vector<std::string> with_absolute_config(std::vector<std::string> args, const std::string& cwd);

// Where the main log goes: log_file, else stderr, or syslog for a daemon.
std::string log_target(const Options& options);

// The built-in default config file, PREFIX/etc/wsserver.conf.
const char* default_config_path();

}  // namespace ws
