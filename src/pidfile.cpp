#include "wsserver/pidfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace ws {
namespace {

int parse_pid(const std::string& text) {
  size_t end = text.find_last_not_of(" \n");
  if (text.empty() || end == std::string::npos) return 0;
  long value = 0;
  for (size_t i = 0; i <= end; ++i) {
    if (text[i] < '0' || text[i] > '9' || value > 99999999) return 0;
    value = value * 10 + (text[i] - '0');
  }
  return static_cast<int>(value);
}

std::string read_text(int fd) {
  char buf[64];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::optional<PidFile> PidFile::lock(const std::string& path, int* running, std::string* error) {
  *running = 0;
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  bool created = bool(fd);
  if (!fd && errno == EEXIST) fd = Fd(open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    *error = "cannot open pid file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      *running = parse_pid(read_text(fd.get()));
      if (*running == 0) *running = -1;  // locked, but the pid is not written yet
      *error = "another wsserver is running (pid " + std::to_string(*running) + ", pid file " + path + ")";
    } else {
      *error = "cannot lock pid file " + path + ": " + std::strerror(errno);
    }
    return std::nullopt;
  }
  PidFile p;
  p.path_ = path;
  p.stale_pid_ = parse_pid(read_text(fd.get()));
  p.created_ = created;
  p.locked_ = std::move(fd);
  return p;
}

bool PidFile::write(int pid, std::string* error) {
  // A fresh file of our own (O_EXCL, random name): in a shared directory a
  // name we could guess may already be someone else's file, which would then
  // become our pid file while they can still write to it.
  std::string temp = path_ + ".tmp.XXXXXX";
  Fd fd(mkostemp(temp.data(), O_CLOEXEC));
  std::string text = std::to_string(pid) + "\n";
  bool ok = fd && fchmod(fd.get(), 0644) == 0 && flock(fd.get(), LOCK_EX | LOCK_NB) == 0 &&
            ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            rename(temp.c_str(), path_.c_str()) == 0;
  if (!ok) {
    *error = "cannot write pid file " + path_ + ": " + std::strerror(errno);
    if (fd) unlink(temp.c_str());  // ours alone: mkostemp made it; nothing else to undo
    return false;
  }
  written_ = std::move(fd);
  pid_ = pid;
  return true;
}

void PidFile::remove() {
  if (pid_ == 0 || !written_) return;
  struct stat on_disk {}, ours {};
  // Only our file, still holding our pid: a successor's file is not ours to remove.
  if (stat(path_.c_str(), &on_disk) == 0 && fstat(written_.get(), &ours) == 0 && on_disk.st_ino == ours.st_ino &&
      on_disk.st_dev == ours.st_dev && parse_pid(read_text(written_.get())) == pid_)
    unlink(path_.c_str());
  pid_ = 0;
}

bool PidFile::rename_to(const std::string& path, std::string* error) {
  if (::rename(path_.c_str(), path.c_str()) != 0) {
    *error = "cannot rename pid file " + path_ + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  path_ = path;
  return true;
}

void PidFile::abandon() {
  // We hold the lock, so nobody else can be using a file we created.
  if (created_ && pid_ == 0) unlink(path_.c_str());
}

int read_pid(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_pid(text);
}

int running_master(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return 0;
  // A shared lock we can take means nobody holds the exclusive one.
  if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return 0;
  if (errno != EWOULDBLOCK) return 0;
  int pid = parse_pid(read_text(fd.get()));
  return pid > 0 ? pid : 0;
}

}  // namespace ws
