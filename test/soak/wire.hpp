// wire.hpp: the soak's client side of a connection: where to connect, how
// to recognise the connection afterwards in the kernel's tables (so a
// failure can be matched with a worker that was killed), and how it ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "wsserver/fd.hpp"

namespace soak {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Endpoint {
  enum Kind { tcp, unix_stream, udp } kind = tcp;
  std::string host;  // "127.0.0.1" or "::1"
  uint16_t port = 0;
  std::string path;  // unix
  std::string text() const;
};

// What the server side sees as this client: its TCP address as the kernel
// prints it ("127.0.0.1:40000", "[::1]:40000"), or its unix socket's inode.
struct ClientKey {
  std::string tcp;
  unsigned long unix_inode = 0;
};

// How a connection ended, when it did not end as planned.
enum class End { none, eof, reset, timeout, refused, mismatch };
const char* end_name(End e);

class Conn {
 public:
  // Connects (blocking, bounded by the kernel's connect timeout on loopback),
  // then makes the socket non-blocking. nullopt with *why if it failed.
  static std::optional<Conn> open(const Endpoint& to, End* why);

  int fd() const { return fd_.get(); }
  const ClientKey& key() const { return key_; }
  Clock::time_point opened() const { return opened_; }
  // Closes with SO_LINGER 0: the server sees a reset.
  void reset();
  void close() { fd_.reset(); }
  void half_close();

 private:
  ws::Fd fd_;
  ClientKey key_;
  Clock::time_point opened_;
};

// One non-blocking recv: bytes appended to `into`, 0 on EOF, -1 when nothing
// is there yet; End::reset in *failed when the connection broke.
long receive_some(int fd, std::string& into, size_t most, End* failed);
// One non-blocking send: bytes taken, or -1 when the socket is full; *failed on a broken connection.
long send_some(int fd, const char* data, size_t size, End* failed);
// Waits for `events` on fd until `until`; the revents, or 0 on timeout.
short wait_for(int fd, short events, Clock::time_point until);

}  // namespace soak
