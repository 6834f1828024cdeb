// log.hpp: log lines (ISO-8601 UTC time, level, pid, text) to stderr, a file
// or syslog, with levels and reopen for logrotate. The access log is a second
// sink with the same targets.
#pragma once

#include <string>
#include <string_view>

namespace ws::log {

enum class Level { error, warn, info, debug };

// Where lines go: "stderr", "syslog" or a file path.
struct Target {
  std::string where = "stderr";
  Level level = Level::info;
};

// Opens the main log. On failure returns false and sets *error; the previous
// target stays in use.
bool open(const Target& target, std::string* error);
// Opens (or with an empty path closes) the access log.
bool open_access(const std::string& where, std::string* error);
// Log files opened from now on are given to this user, so that workers
// running as that user can reopen them after a rotation (as nginx does).
void set_file_owner(unsigned uid);
// Reopens both files by path, for logrotate; keeps the old ones on failure.
void reopen();
// Closes everything and goes back to stderr (used after a daemon closes stdio).
void reset_to_stderr();
// True when the main log writes to the process's stderr.
bool to_stderr();

void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
bool enabled(Level level);

// One access-log line; a no-op when no access log is configured.
void access(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// The line as it is, without the time in front (it carries its own).
void access_raw(std::string_view line);
bool access_enabled();

// Logs at error level, also tells stderr when the log goes elsewhere (so
// whoever started the server sees why it stopped), and exits with `code`.
[[noreturn]] void fatal(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Called by fatal() with the exit code and the message before exiting; a
// daemon uses it to tell the process that launched it why it stops.
void set_fatal_hook(void (*hook)(int code, const char* message));

// "name() failed: strerror(errno)", the nginx way of reporting a system call.
std::string syscall_error(const char* name);

}  // namespace ws::log
