// pidfile.hpp: the single-instance guard. The master holds an exclusive
// flock() on the pid file for its whole life, so "is it running?" is asked of
// the kernel, never guessed from a pid that may have been reused.
#pragma once

#include <optional>
#include <string>

#include "wsserver/fd.hpp"

namespace ws {

class PidFile {
 public:
  // Takes the lock on whatever file is at `path` now (creating it if
  // needed). Fails with *running set when another process holds it.
  static std::optional<PidFile> lock(const std::string& path, int* running, std::string* error);
  PidFile(PidFile&&) = default;
  PidFile& operator=(PidFile&&) = default;

  // Writes our pid whole: a locked temp file renamed over the path, so a
  // reader never sees a half-written pid and a later instance finds a locked
  // file.
  bool write(int pid, std::string* error);
  // Removes the file if it still holds our pid (at exit).
  void remove();
  // Moves the written file to `path` (PIDFILE.oldbin during an upgrade, and
  // back); the lock goes with it. False with *error when rename() fails.
  bool rename_to(const std::string& path, std::string* error);
  // Start-up failed before write(): removes the file if we created it.
  void abandon();
  // The descriptors the workers must not inherit.
  int lock_fd() const { return locked_.get(); }
  int file_fd() const { return written_.get(); }
  const std::string& path() const { return path_; }
  // The pid the file held before we took it over (0 if none or malformed).
  int stale_pid() const { return stale_pid_; }

 private:
  PidFile() = default;
  std::string path_;
  Fd locked_;   // the file that was at the path when we started
  Fd written_;  // the file we renamed into place
  int stale_pid_ = 0;
  int pid_ = 0;
  bool created_ = false;
};

// Reads a pid file; 0 when missing or malformed.
int read_pid(const std::string& path);
// The pid of a running master holding the lock on `path`, or 0.
int running_master(const std::string& path);

}  // namespace ws
