#include "wsserver/secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "wsserver/fd.hpp"

namespace ws {
namespace {

constexpr size_t max_secret_file = 4096;

std::string too_long(const std::string& path) {
  return "auth_file: " + path + " is longer than " + std::to_string(max_secret_file) + " bytes";
}

// O_NONBLOCK: a FIFO or a device must not hang a start, a -t or a reload;
// O_NOFOLLOW: the secret is the file named, not one a link points to.
Fd open_secret(const std::string& path, std::string* error) {
  Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && errno == ELOOP) *error = "auth_file: " + path + " is a symbolic link; name the file itself";
  else if (!fd) *error = "auth_file: cannot read " + path + ": " + std::strerror(errno);
  return fd;
}

// Only root or whoever started wsserver may own it: a secret the workers'
// user could rewrite would let a compromised worker choose it.
bool trusted(const std::string& path, const struct stat& st, std::string* error) {
  if (!S_ISREG(st.st_mode)) *error = "auth_file: " + path + " is not a regular file";
  else if (st.st_uid != 0 && st.st_uid != getuid())
    *error = "auth_file: " + path + " is owned by uid " + std::to_string(st.st_uid) +
             ", not by root or the user running wsserver";
  else if (st.st_mode & (S_IRGRP | S_IROTH))
    *error = "auth_file: " + path + " is readable by group or others; chmod 600 it";
  else if (static_cast<size_t>(st.st_size) > max_secret_file)
    *error = too_long(path);
  else return true;
  return false;
}

// The whole file, or nullopt if it is over the limit (it may grow after fstat).
std::optional<std::string> read_all(int fd, const std::string& path, std::string* error) {
  std::string text;
  char buf[max_secret_file + 1];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) *error = "auth_file: cannot read " + path + ": " + std::strerror(errno);
    if (n <= 0) return n == 0 ? std::optional<std::string>(text) : std::nullopt;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_secret_file) return *error = too_long(path), std::nullopt;
  }
}

}  // namespace

bool load_secret(const std::string& path, std::string* secret, std::string* error) {
  Fd fd = open_secret(path, error);
  if (!fd) return false;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    *error = "auth_file: cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  if (!trusted(path, st, error)) return false;
  auto content = read_all(fd.get(), path, error);
  if (!content) return false;
  std::string text = content->substr(0, content->find('\n'));
  // The client's AUTH argument loses its surrounding white space, so the
  // secret does too, or it could never match.
  const char* space = " \t\r\v\f";
  size_t first = text.find_first_not_of(space);
  text = first == std::string::npos ? std::string() : text.substr(first, text.find_last_not_of(space) - first + 1);
  if (text.find('\0') != std::string::npos) {
    *error = "auth_file: " + path + " holds a NUL byte, which no client can send in AUTH";
    return false;
  }
  if (text.empty()) {
    *error = "auth_file: " + path + " holds no secret on its first line";
    return false;
  }
  *secret = std::move(text);
  return true;
}

}  // namespace ws
