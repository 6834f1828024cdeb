#include "wsserver/secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsserver/fd.hpp"

namespace ws {

bool load_secret(const std::string& path, std::string* secret, std::string* error) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || fstat(fd.get(), &st) != 0) {
    *error = "auth_file: cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  if (st.st_mode & (S_IRGRP | S_IROTH)) {
    *error = "auth_file: " + path + " is readable by group or others; chmod 600 it";
    return false;
  }
  char buf[4096];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  text = text.substr(0, text.find('\n'));
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
