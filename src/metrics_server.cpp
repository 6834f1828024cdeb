#include "wsserver/metrics_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "wsserver/metrics.hpp"

namespace ws {
namespace {

constexpr size_t max_connections = 16;
constexpr int64_t connection_timeout_ms = 5000;
constexpr int metrics_backlog = 64;
// Accepts per wake-up: a flood of connections cannot keep the master here.
constexpr int max_accepts = 64;
constexpr size_t read_size = 1024;

std::string response(int code, const char* phrase, const std::string& headers, const std::string& type,
                     const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) + " " + phrase + "\r\n" + headers + "Content-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string refusal(int code, const char* phrase, const std::string& headers = "") {
  return response(code, phrase, headers, "text/plain; charset=utf-8", std::to_string(code) + " " + phrase + "\n");
}

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

}  // namespace

std::string metrics_answer(const HttpHeadReader& head, const std::function<std::string()>& render) {
  if (head.state() == HttpHeadReader::State::too_large) return refusal(431, "Request Header Fields Too Large");
  HttpRequest request = parse_http_head(head.head());
  if (request.malformed) return refusal(400, "Bad Request");
  if (request.method != "GET") return refusal(405, "Method Not Allowed", "Allow: GET\r\n");
  if (request.path() != "/metrics") return refusal(404, "Not Found");
  return response(200, "OK", "Cache-Control: no-store\r\n", metrics_content_type, render());
}

std::optional<MetricsServer> MetricsServer::open(const std::string& address, std::string* error) {
  auto parsed = parse_listen_address(address, error);
  if (!parsed) return std::nullopt;
  auto listener = open_listener(*parsed, metrics_backlog, error);
  if (!listener) return std::nullopt;
  MetricsServer server;
  server.listener_ = std::move(*listener);
  return server;
}

std::vector<std::string> MetricsServer::local() const {
  std::vector<std::string> out;
  for (const auto& s : listener_.sockets) out.push_back(s.local);
  return out;
}

void MetricsServer::add_poll_fds(std::vector<pollfd>& fds) const {
  for (const auto& s : listener_.sockets) fds.push_back({s.fd.get(), POLLIN, 0});
  for (const auto& c : connections_)
    fds.push_back({c.fd.get(), static_cast<short>(c.phase == Phase::writing ? POLLOUT : POLLIN), 0});
}

bool MetricsServer::listening_on(int fd) const {
  return std::any_of(listener_.sockets.begin(), listener_.sockets.end(),
                     [fd](const BoundSocket& s) { return s.fd.get() == fd; });
}

void MetricsServer::handle(const std::vector<pollfd>& fds, int64_t now_ms, const std::function<std::string()>& render) {
  for (const auto& p : fds) {
    if (!p.revents || listening_on(p.fd)) continue;
    auto it = std::find_if(connections_.begin(), connections_.end(), [&](const Connection& c) { return c.fd.get() == p.fd; });
    if (it != connections_.end()) serve(*it, render);
  }
  std::erase_if(connections_, [](const Connection& c) { return !c.fd; });
  for (const auto& p : fds)
    if (p.revents && listening_on(p.fd)) accept_all(p.fd, now_ms);
}

void MetricsServer::accept_all(int listen_fd, int64_t now_ms) {
  for (int i = 0; i < max_accepts; ++i) {
    Fd fd(accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN: all taken; other errors: that client is gone
    if (connections_.size() >= max_connections) continue;  // too many at once: closed unanswered
    Connection c;
    c.fd = std::move(fd);
    c.deadline_ms = now_ms + connection_timeout_ms;
    connections_.push_back(std::move(c));
  }
}

void MetricsServer::serve(Connection& c, const std::function<std::string()>& render) {
  switch (c.phase) {
    case Phase::reading: return read_head(c, render);
    case Phase::writing: return write_answer(c);
    case Phase::draining: return drain(c);
  }
}

// One read per wake-up: a client sending a byte at a time costs the master
// one short turn per byte, within the deadline.
void MetricsServer::read_head(Connection& c, const std::function<std::string()>& render) {
  char buf[read_size];
  ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
  if (n < 0 && would_block()) return;
  if (n <= 0) {
    c.fd.reset();  // closed or failed before a whole head
    return;
  }
  c.head.feed(std::string_view(buf, static_cast<size_t>(n)));
  if (c.head.state() == HttpHeadReader::State::more) return;
  c.out = metrics_answer(c.head, render);
  c.phase = Phase::writing;
  write_answer(c);
}

void MetricsServer::write_answer(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && would_block()) return;  // the rest when the socket drains
    if (n <= 0) {
      c.fd.reset();
      return;
    }
    c.sent += static_cast<size_t>(n);
  }
  std::string().swap(c.out);
  shutdown(c.fd.get(), SHUT_WR);
  c.phase = Phase::draining;
}

void MetricsServer::drain(Connection& c) {
  char buf[read_size];
  ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
  if (n < 0 && would_block()) return;
  if (n <= 0) c.fd.reset();  // the client read the answer and closed
}

int64_t MetricsServer::expire(int64_t now_ms) {
  int64_t next = INT64_MAX;
  for (auto& c : connections_) {
    if (c.deadline_ms <= now_ms) c.fd.reset();
    else next = std::min(next, c.deadline_ms);
  }
  std::erase_if(connections_, [](const Connection& c) { return !c.fd; });
  return next;
}

std::vector<int> MetricsServer::descriptors() const {
  std::vector<int> out;
  for (const auto& s : listener_.sockets) out.push_back(s.fd.get());
  for (const auto& c : connections_) out.push_back(c.fd.get());
  return out;
}

}  // namespace ws
