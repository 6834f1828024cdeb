// libFuzzer target: the config file parser (CLI11 and our line tracking).
// Whatever a config file holds, `wsserver -c FILE` must not crash or hang:
// it either proceeds with a config that validates, or refuses with exit
// status 78 and a message that names the file (SPEC sections 4 and 5).
// What it proceeds with holds no NUL byte in any string: paths, names and
// addresses all end up in C calls that would stop there.
//
// Input: the file's bytes.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "wsserver/cli.hpp"
#include "wsserver/exit_codes.hpp"

#include "fuzz_check.hpp"

namespace {

// tmpfs when there is one: a file is written for every input.
std::string config_path() {
  std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return dir + "/wsserver-config-fuzz." + std::to_string(getpid()) + ".conf";
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  for (size_t at = 0; at < size;) {
    ssize_t n = write(fd, data + at, size - at);
    FUZZ_CHECK(n > 0);
    at += static_cast<size_t>(n);
  }
  close(fd);
}

bool c_string(const std::string& s) { return s.find('\0') == std::string::npos; }

bool no_nul_anywhere(const ws::Config& c) {
  for (const auto* list : {&c.listen, &c.allow, &c.deny})
    for (const auto& s : *list)
      if (!c_string(s)) return false;
  for (const auto* s : {&c.auth_file, &c.user, &c.group, &c.pid_file, &c.control_socket, &c.log_file, &c.access_log})
    if (!c_string(*s)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = config_path();
  write_file(path, data, size);
  ws::CliOutcome outcome = ws::parse_command_line({"-c", path}, "/tmp", false);
  unlink(path.c_str());
  if (outcome.proceed) {
    FUZZ_CHECK(outcome.options.config_path == path);
    FUZZ_CHECK(ws::validate(outcome.options.config, nullptr));
    FUZZ_CHECK(no_nul_anywhere(outcome.options.config));
  } else {
    FUZZ_CHECK(outcome.exit_code == ws::exit_code::config);
    FUZZ_CHECK(outcome.message.find(path) != std::string::npos);
  }
  return 0;
}
