// metrics_server.hpp: the master's Prometheus endpoint (metrics_listen,
// SPEC section 14). It is served from the master's own wait loop and never
// blocks it: every socket is non-blocking, each connection has one request
// and a deadline, and the bytes held for one are bounded.
//
// Choices where the texts leave room:
// - GET /metrics (any query) is answered 200 with the exposition; another
//   path 404; another method 405 with `Allow: GET`; a head that is not
//   HTTP (http.hpp) 400; a head over 8 KiB 431. Every answer says
//   `Connection: close` and the connection closes after it (no keep-alive:
//   a scrape every few seconds does not need it).
// - A connection has 5 s from accept to its last byte out; at most 16 are
//   open at once, and one more is closed unanswered.
// - The bytes after the head (a body nobody asked for) are read and dropped
//   until the client closes or the deadline, so that closing with unread
//   bytes does not reset the connection before the answer is read.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/fd.hpp"
#include "wsserver/http.hpp"
#include "wsserver/listener.hpp"

namespace ws {

class MetricsServer {
 public:
  // Binds `address` (HOST:PORT or PORT, as metrics_listen); nothing, with
  // *error set, if it cannot.
  static std::optional<MetricsServer> open(const std::string& address, std::string* error);
  MetricsServer(MetricsServer&&) = default;
  MetricsServer& operator=(MetricsServer&&) = default;

  // metrics_listen as configured: the endpoint's identity across reloads.
  const std::string& address() const { return listener_.address.text; }
  // The addresses bound ("127.0.0.1:9100"), for the log.
  std::vector<std::string> local() const;

  // Appends what to wait for; `handle` gets the same entries back.
  void add_poll_fds(std::vector<pollfd>& fds) const;
  // `render` gives the exposition, called only for GET /metrics.
  void handle(const std::vector<pollfd>& fds, int64_t now_ms, const std::function<std::string()>& render);
  // Closes connections past their deadline; returns the next deadline or INT64_MAX.
  int64_t expire(int64_t now_ms);
  // Every descriptor, for children to close.
  std::vector<int> descriptors() const;

 private:
  enum class Phase { reading, writing, draining };
  struct Connection {
    Fd fd;
    HttpHeadReader head;
    std::string out;
    size_t sent = 0;
    Phase phase = Phase::reading;
    int64_t deadline_ms = 0;
  };
  MetricsServer() = default;
  bool listening_on(int fd) const;
  void accept_all(int listen_fd, int64_t now_ms);
  void serve(Connection& c, const std::function<std::string()>& render);
  void read_head(Connection& c, const std::function<std::string()>& render);
  void write_answer(Connection& c);
  void drain(Connection& c);

  Listener listener_;
  std::vector<Connection> connections_;
};

// The whole HTTP answer to a request head (for the endpoint and its tests).
std::string metrics_answer(const HttpHeadReader& head, const std::function<std::string()>& render);

}  // namespace ws
