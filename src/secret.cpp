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
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) {
    *error = "auth_file: " + path + " holds no secret on its first line";
    return false;
  }
  *secret = std::move(text);
  return true;
}

}  // namespace ws
