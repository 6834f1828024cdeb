// proxy_header.hpp: the PROXY protocol header (HAProxy's proxy-protocol.txt,
// v1 text and v2 binary) that starts every connection on a `proxy:` listener
// (SPEC section 9), parsed as its bytes arrive and never a byte further.
//
// Reading it from a socket, either way:
//   - read exactly: while need_more, recv() at most want() bytes and feed
//     them; want() never reaches past a valid header, so every byte read is
//     consumed and the client's first message stays in the socket;
//   - peek: recv(MSG_PEEK) what is there, feed it, then recv() exactly the
//     count feed() returned to drop the header bytes; repeat while need_more.
// The caller bounds the time (SPEC: 5 s) and treats EOF as bad.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ws {

// local: the socket's own addresses stand (v2 LOCAL, v1 UNKNOWN, and v2
// PROXY of an unspecified family or transport, which the text lets a
// receiver treat the same way). proxy: the header's addresses are the
// connection's.
enum class ProxyCommand { local, proxy };

struct ProxyHeader {
  int version = 0;  // 1 or 2
  ProxyCommand command = ProxyCommand::local;
  // For proxy only: AF_INET, AF_INET6 or AF_UNIX, both of the same family,
  // zero-filled past their fields; `address_len` is the size of each, as
  // format_address() and ip_address_of() take them.
  sockaddr_storage source{}, destination{};
  socklen_t address_len = 0;
};

class ProxyHeaderParser {
 public:
  enum class Status { need_more, done, bad };

  // Takes bytes that follow those fed before; returns how many belong to the
  // header: all of them while need_more, the header's last ones when done.
  // Once done or bad it takes nothing more.
  size_t feed(std::string_view bytes);

  Status status() const { return status_; }
  // Bytes the caller may read next without overrunning a valid header: at
  // least 1 while need_more, 0 after. Exact for v2 once its 16-byte fixed
  // part is in; for v1 a lower bound, since only the CRLF ends the line.
  size_t want() const;
  // When done.
  const ProxyHeader& header() const { return header_; }
  // When bad: why, in a few words, for the log (the access log says
  // `proxy-header`).
  std::string_view reason() const { return reason_; }

 private:
  void take(uint8_t byte);
  void take_v1(uint8_t byte);
  void take_v2(uint8_t byte);
  void take_v2_fixed(size_t at);
  void take_tlv_header(size_t i, uint8_t byte);
  void parse_v1_line();
  bool is_proxy() const;
  bool has_addresses() const;
  void check_v2_family();
  void check_v2_length();
  void finish_v2();
  void fail(const char* why);

  Status status_ = Status::need_more;
  const char* reason_ = "";
  ProxyHeader header_;
  size_t seen_ = 0;   // bytes fed and consumed so far
  size_t total_ = 0;  // v2: 16 + its length field, once known
  // v2 with addresses: where the next TLV starts (none yet: never reached),
  // and the length field of the one being read.
  size_t tlv_next_ = SIZE_MAX;
  size_t tlv_length_ = 0;
  // The v1 line, or the v2 fixed part and address block (the largest, unix,
  // is 216 bytes); TLVs past the block are skipped unstored.
  std::array<uint8_t, 16 + 216> buf_{};
};

// The header that starts a connection, read from `fd` (blocking) as the
// peek way above: never a byte past it, whatever the split. Gives up at
// `deadline_ms` (monotonic_ms()), at EOF, on an error, or when a signal
// interrupts a wait and `stop()` says to.
struct ProxyRead {
  enum class Result { done, bad, stopped } result = Result::bad;
  ProxyHeader header;  // when done
  std::string why;     // when bad: for the log
  uint64_t bytes = 0;  // taken from the socket
};
ProxyRead read_proxy_header(int fd, int64_t deadline_ms, bool (*stop)());

}  // namespace ws
