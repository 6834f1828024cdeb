#include "wsserver/ws_page.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsserver/fd.hpp"

// The page's bytes, assembled into the binary. The path is relative to the
// directory make runs in (the tree's root); the Makefile makes this object
// depend on the file, which the compiler's own dependency list cannot see.
asm(".pushsection .rodata\n"
    ".hidden wsserver_chat_page_begin\n"
    ".hidden wsserver_chat_page_end\n"
    ".globl wsserver_chat_page_begin\n"
    ".globl wsserver_chat_page_end\n"
    "wsserver_chat_page_begin:\n"
    ".incbin \"etc/chat.html\"\n"
    "wsserver_chat_page_end:\n"
    ".popsection\n");

extern "C" const char wsserver_chat_page_begin[];
extern "C" const char wsserver_chat_page_end[];

namespace ws {
namespace {

std::string failure(const std::string& path, const char* what) {
  return "ws_page: " + path + ": " + what;
}

std::string too_large(const std::string& path) {
  return "ws_page: " + path + " is larger than " + std::to_string(max_ws_page) + " bytes";
}

// O_NONBLOCK: opening a FIFO must not wait for a writer.
Fd open_page(const std::string& path, std::string* error) {
  Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && errno == ELOOP) *error = failure(path, "is a symbolic link; name the file itself");
  else if (!fd) *error = failure(path, std::strerror(errno));
  return fd;
}

bool regular_and_small(int fd, const std::string& path, std::string* error) {
  struct stat st {};
  if (fstat(fd, &st) != 0) *error = failure(path, std::strerror(errno));
  else if (!S_ISREG(st.st_mode)) *error = failure(path, "is not a regular file");
  else if (static_cast<size_t>(st.st_size) > max_ws_page) *error = too_large(path);
  else return true;
  return false;
}

// The file may grow after fstat: the limit holds for what is read.
bool read_all(int fd, const std::string& path, std::string* page, std::string* error) {
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return *error = failure(path, std::strerror(errno)), false;
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_ws_page) return *error = too_large(path), false;
  }
  *page = std::move(text);
  return true;
}

}  // namespace

std::string_view builtin_ws_page() {
  return {wsserver_chat_page_begin, static_cast<size_t>(wsserver_chat_page_end - wsserver_chat_page_begin)};
}

bool load_ws_page(const std::string& path, std::string* page, std::string* error) {
  Fd fd = open_page(path, error);
  return fd && regular_and_small(fd.get(), path, error) && read_all(fd.get(), path, page, error);
}

bool ws_page_for(const std::string& path, std::string* page, std::string* error) {
  if (!path.empty()) return load_ws_page(path, page, error);
  *page = std::string(builtin_ws_page());
  return true;
}

}  // namespace ws
