// haproxy.hpp: Debian's haproxy on loopback, in front of wsserver instances
// a test started, with a config made for the test (its listening sockets
// bound by the test on port 0 and handed over, health checks every 100 ms),
// stopped by pid whatever the test does. And the openssl command, to make a
// certificate and to speak TLS to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "program.hpp"
#include "tempdir.hpp"

namespace test {

using namespace std::chrono_literals;

struct HaproxyOptions {
  // The wsserver instances, "127.0.0.1:PORT", as servers ws1, ws2...
  std::vector<std::string> servers;
  // send-proxy-v2 and check-send-proxy on every server (SPEC 9).
  bool send_proxy = true;
  // A second, TLS frontend with a certificate made by make_certificate().
  bool tls = false;
  // What the health check expects back from "health check\n", in hex: the
  // strip service's reply with its NUL.
  std::string check_reply_hex = "6865616c7468636865636b00";
};

class Haproxy {
 public:
  // Starts `haproxy -db -f DIR/haproxy.cfg` and waits until its stats
  // socket answers; throws, with its output, if it does not start.
  explicit Haproxy(HaproxyOptions options);
  ~Haproxy();
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;

  int pid() const { return pid_; }
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }
  // The PEM file HAProxy serves (certificate and key), as a CA for clients.
  const std::string& certificate() const { return certificate_; }
  std::string config() const;
  // HAProxy's own log (one line per connection) and messages.
  std::string log() const;
  // A server's state from the stats socket ("UP", "DOWN", "UP 1/2"...), or
  // "" if the socket does not answer.
  std::string server_state(size_t i) const;
  // Waits until server i's state starts with `state` ("UP" or "DOWN").
  bool wait_state(size_t i, std::string_view state, std::chrono::milliseconds timeout = 10s) const;
  // A command on the stats socket ("show stat"...), its whole answer.
  std::string stats(const std::string& command) const;

 private:
  void stop();

  TempDir dir_;
  int pid_ = -1;
  uint16_t port_ = 0, tls_port_ = 0;
  std::string certificate_;
  std::string socket_;
};

// A self-signed certificate for CN=localhost, made by the openssl command
// now; key and certificate in one PEM file, as HAProxy's `crt` takes it.
// Returns the file's path; throws if openssl fails.
std::string make_certificate(const TempDir& dir);

// Connects to 127.0.0.1:port from `source` with `openssl s_client`,
// verifying the certificate against `ca`, sends `input` and returns
// everything received until the server closes (send "exit\n" last).
ProgramResult tls_exchange(uint16_t port, const std::string& ca, const std::string& input,
                           const std::string& source = "127.0.0.1", std::chrono::milliseconds timeout = 10s);

}  // namespace test
