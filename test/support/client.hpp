// client.hpp: a test client over a real socket, every read bounded by a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wsserver/fd.hpp"

namespace test {

using namespace std::chrono_literals;

class Client {
 public:
  // Connects to host:port (TCP) or, with host "unix", to the path in `path`.
  static Client connect(uint16_t port, const std::string& host = "127.0.0.1");
  // `source`: the local address to connect from (127.0.0.2 ... on loopback).
  static std::optional<Client> try_connect(uint16_t port, const std::string& host = "127.0.0.1",
                                           const std::string& source = "");
  static Client connect_unix(const std::string& path);
  // To 127.0.0.1:port with SO_RCVBUF set before the connect, which is when
  // it sizes the TCP window: small to make a client that holds the server
  // back, large for one that never does.
  static Client connect_with_receive_buffer(uint16_t port, int bytes);
  explicit Client(ws::Fd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }
  // Sends everything; false if the connection failed.
  bool send(std::string_view data);
  // The next reply up to `terminator` (not included); nullopt on EOF or timeout.
  std::optional<std::string> reply(std::chrono::milliseconds timeout = 5s, char terminator = '\0');
  // Everything until the server closes; nullopt if it does not within `timeout`.
  std::optional<std::string> read_to_eof(std::chrono::milliseconds timeout = 5s);
  // True if nothing at all (no byte, no close) arrives for `duration`: the
  // server stayed silent. Also paces a client that must stay quiet.
  bool quiet_for(std::chrono::milliseconds duration);
  // True if the server closed (EOF or reset) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout);
  void half_close();
  // Closes with SO_LINGER 0: the server sees a reset.
  void reset();
  void close() { fd_.reset(); }

 private:
  // Reads what is available, waiting up to `timeout`; 0 on EOF, -1 on timeout or error.
  long fill(std::chrono::milliseconds timeout);
  ws::Fd fd_;
  std::string pending_;
  bool eof_ = false;
};

// True if this host can bind the IPv6 loopback address.
bool have_ipv6_loopback();

}  // namespace test
