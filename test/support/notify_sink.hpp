// notify_sink.hpp: a datagram socket standing in for systemd's notification
// socket (NOTIFY_SOCKET), a path or an abstract "@name", keeping every
// message it hears.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/fd.hpp"
#include "wsserver/sd_notify.hpp"

#include "wait.hpp"

namespace test {

using namespace std::chrono_literals;

class NotifySink {
 public:
  explicit NotifySink(std::string address) : address_(std::move(address)) {
    fd_ = ws::Fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un un;
    socklen_t len = 0;
    REQUIRE(ws::sd::socket_address(address_, &un, &len));
    REQUIRE(bind(fd_.get(), reinterpret_cast<sockaddr*>(&un), len) == 0);
  }
  const std::string& address() const { return address_; }

  // The next message, or nullopt when none comes within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 5s) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    seen.emplace_back(buf, static_cast<size_t>(n));
    return seen.back();
  }
  // Reads until a message holds `text`; false at the deadline.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto m = next(std::max(left, 1ms));
      if (m && m->find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The index of the first message at or after `from` holding `text`, or -1.
  int find(const std::string& text, int from = 0) const {
    for (size_t i = static_cast<size_t>(from); i < seen.size(); ++i)
      if (seen[i].find(text) != std::string::npos) return static_cast<int>(i);
    return -1;
  }

  std::vector<std::string> seen;

 private:
  std::string address_;
  ws::Fd fd_;
};

}  // namespace test

