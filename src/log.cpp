#include "wsserver/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "wsserver/fd.hpp"

namespace ws::log {
namespace {

constexpr const char* level_names[] = {"error", "warn", "info", "debug"};
constexpr int syslog_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

enum class Kind { none, stderr_stream, file, syslog };

struct Sink {
  Kind kind = Kind::none;
  std::string path;
  int fd = -1;
};

Sink main_sink{Kind::stderr_stream, "", STDERR_FILENO};
Sink access_sink;
Level threshold = Level::info;
void (*fatal_hook)(int, const char*) = nullptr;
bool chown_files = false;
uid_t file_uid = 0;
bool syslog_open = false;

// Someone who can write to the log directory may plant a symlink, a hard
// link or a FIFO where the log goes (nginx CVE-2016-1247): the master, as
// root, must neither write through it nor give it away. Only a file the
// master itself created is handed to the workers' user. A character device
// (/dev/null, /dev/full) is fine: only root can make one.
int open_log_file(const std::string& path, std::string* error) {
  constexpr int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  Fd fd(::open(path.c_str(), flags | O_CREAT | O_EXCL, 0644));
  bool created = bool(fd);
  if (!fd && errno == EEXIST) fd = Fd(::open(path.c_str(), flags));
  struct stat st {};
  std::string why = !fd                         ? std::strerror(errno)
                    : fstat(fd.get(), &st) != 0 ? std::strerror(errno)
                    : S_ISCHR(st.st_mode)       ? ""
                    : !S_ISREG(st.st_mode)      ? "not a regular file"
                    : st.st_nlink != 1          ? "a file with several hard links"
                                                : "";
  if (!why.empty()) {
    if (error) *error = "cannot open log file " + path + ": " + why;
    return -1;
  }
  // A failed chown just means workers cannot reopen it; they keep the
  // descriptor they have.
  if (created && chown_files && fchown(fd.get(), file_uid, static_cast<gid_t>(-1)) != 0 && error) error->clear();
  return fd.release();
}

bool open_sink(Sink& sink, const std::string& where, std::string* error) {
  Sink next;
  if (where.empty()) {
    next.kind = Kind::none;
  } else if (where == "stderr") {
    next = {Kind::stderr_stream, "", STDERR_FILENO};
  } else if (where == "syslog") {
    next.kind = Kind::syslog;
    if (!syslog_open) {
      openlog("wsserver", LOG_PID | LOG_NDELAY, LOG_DAEMON);
      syslog_open = true;
    }
  } else {
    next = {Kind::file, where, open_log_file(where, error)};
    if (next.fd < 0) return false;
  }
  if (sink.kind == Kind::file) ::close(sink.fd);
  sink = next;
  return true;
}

void reopen_sink(Sink& sink) {
  if (sink.kind != Kind::file) return;
  std::string error;
  int fd = open_log_file(sink.path, &error);
  if (fd < 0) {
    // Keep writing to the old file rather than lose lines.
    log::error("%s", error.c_str());
    return;
  }
  ::close(sink.fd);
  sink.fd = fd;
}

// Formats "2026-11-26T03:56:29.123Z" into buf. The date is computed, not
// asked of gmtime_r(): that takes the C library's time-zone lock, a write to
// a page the master shares with every worker it has just forked, and such a
// write costs a page copy per fork in a burst.
size_t format_time(char* buf, size_t size) {
  using namespace std::chrono;
  auto now = time_point_cast<milliseconds>(system_clock::now());
  auto day = floor<days>(now);
  year_month_day date{day};
  hh_mm_ss time{now - day};
  int n = snprintf(buf, size, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", static_cast<int>(date.year()),
                   static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                   static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
                   static_cast<long>(time.seconds().count()), static_cast<long>(time.subseconds().count()));
  return n > 0 ? std::min(static_cast<size_t>(n), size - 1) : 0;
}

void write_line(const Sink& sink, int priority, const char* prefix_level, const char* fmt, va_list ap) {
  if (sink.kind == Kind::none) return;
  char line[4096];
  if (sink.kind == Kind::syslog) {
    vsnprintf(line, sizeof line, fmt, ap);
    syslog(priority, "%s", line);
    return;
  }
  size_t n = format_time(line, sizeof line);
  int m = prefix_level ? snprintf(line + n, sizeof line - n, " %s %d ", prefix_level, static_cast<int>(getpid()))
                       : snprintf(line + n, sizeof line - n, " ");
  if (m > 0) n += static_cast<size_t>(m);
  m = vsnprintf(line + n, sizeof line - n, fmt, ap);
  if (m > 0) n = std::min(n + static_cast<size_t>(m), sizeof line - 1);
  line[n++] = '\n';
  // One write per line keeps lines from several processes whole (O_APPEND).
  // A failed write (full disk, vanished file, closed stderr) is dropped on
  // purpose: logging must never stop the service.
  ssize_t ignored = ::write(sink.fd, line, n);
  (void)ignored;
}

void vlog(Level level, const char* fmt, va_list ap) {
  if (level > threshold) return;
  int i = static_cast<int>(level);
  write_line(main_sink, syslog_priorities[i], level_names[i], fmt, ap);
}

}  // namespace

bool open(const Target& target, std::string* error) {
  if (!open_sink(main_sink, target.where, error)) return false;
  threshold = target.level;
  return true;
}

bool open_access(const std::string& where, std::string* error) { return open_sink(access_sink, where, error); }

void reopen() {
  reopen_sink(main_sink);
  reopen_sink(access_sink);
}

void reset_to_stderr() {
  open_sink(main_sink, "stderr", nullptr);
  open_sink(access_sink, "", nullptr);
}

bool to_stderr() { return main_sink.kind == Kind::stderr_stream; }

bool enabled(Level level) { return level <= threshold; }

#define WS_LOG_AT(name, level)          \
  void name(const char* fmt, ...) {     \
    va_list ap;                         \
    va_start(ap, fmt);                  \
    vlog(level, fmt, ap);               \
    va_end(ap);                         \
  }
WS_LOG_AT(error, Level::error)
WS_LOG_AT(warn, Level::warn)
WS_LOG_AT(info, Level::info)
WS_LOG_AT(debug, Level::debug)
#undef WS_LOG_AT

void access(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  write_line(access_sink, LOG_INFO, nullptr, fmt, ap);
  va_end(ap);
}

void access_raw(std::string_view line) {
  if (access_sink.kind == Kind::none) return;
  if (access_sink.kind == Kind::syslog) {
    syslog(LOG_INFO, "%.*s", static_cast<int>(line.size()), line.data());
    return;
  }
  // One write, as write_line does, so lines from several workers stay whole.
  std::string whole = std::string(line) + '\n';
  ssize_t ignored = ::write(access_sink.fd, whole.data(), whole.size());
  (void)ignored;
}

bool access_enabled() { return access_sink.kind != Kind::none; }

void fatal(int code, const char* fmt, ...) {
  char message[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  error("%s", message);
  if (!to_stderr()) {
    // The log may be a file nobody watches yet: say it where we were started too.
    std::string line = std::string("wsserver: ") + message + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  }
  if (fatal_hook) fatal_hook(code, message);
  std::exit(code);
}

void set_file_owner(unsigned uid) {
  chown_files = geteuid() == 0;
  file_uid = uid;
}

void set_fatal_hook(void (*hook)(int, const char*)) { fatal_hook = hook; }

std::string syscall_error(const char* name) { return std::string(name) + "() failed: " + std::strerror(errno); }

}  // namespace ws::log
