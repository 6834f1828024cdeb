// control.hpp: the master's Unix control socket (mode 0600). A client sends
// one request line ("status" or "status json") and reads the answer until
// the master closes. The master serves it from its own wait loop without
// ever blocking: every descriptor is non-blocking and every connection has
// a deadline. An answer that takes time (an upgrade's) is held: the request's
// handler returns an empty answer, and answer_held() gives it later.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/fd.hpp"

namespace ws {

class ControlServer {
 public:
  // Binds `path`, replacing a file left behind (the caller holds the pid
  // file lock, so no live master owns it).
  static std::optional<ControlServer> open(const std::string& path, std::string* error);
  ControlServer(ControlServer&&) = default;
  ControlServer& operator=(ControlServer&&) = default;
  // Closes everything and removes the socket file (at exit).
  void remove_file();

  // Moves the socket's file (CONTROL.oldbin during an upgrade, and back).
  bool rename_to(const std::string& path, std::string* error);
  // Gives every held request its answer.
  void answer_held(const std::string& answer);

  // Appends what to wait for; `handle` gets the same entries back.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  void handle(const std::vector<pollfd>& fds, int64_t now_ms, const std::function<std::string(const std::string&)>& answer);
  // Closes connections past their deadline; returns the next deadline or INT64_MAX.
  int64_t expire(int64_t now_ms);
  // Every descriptor, for children to close.
  std::vector<int> descriptors() const;

 private:
  struct Connection {
    Fd fd;
    std::string in, out;
    size_t sent = 0;
    bool answered = false;
    bool held = false;  // answered later, by answer_held()
    int64_t deadline_ms;
  };
  ControlServer() = default;
  void accept_all(int64_t now_ms);
  void serve(Connection& c, short revents, int64_t now_ms, const std::function<std::string(const std::string&)>& answer);

  std::string path_;
  Fd listen_;
  std::vector<Connection> connections_;
};

// Client side: the pid of the process listening on the control socket (from
// SO_PEERCRED, so a master too busy to answer still tells who it is), or 0
// with *error.
int control_peer_pid(const std::string& path, int timeout_ms, std::string* error);
// Client side: sends `request`, returns the answer, or nullopt with *error.
std::optional<std::string> query_control(const std::string& path, const std::string& request, int timeout_ms,
                                         std::string* error);

}  // namespace ws
