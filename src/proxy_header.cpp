#include "wsserver/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "wsserver/address.hpp"
#include "wsserver/clock.hpp"

namespace ws {
namespace {

constexpr uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_signature = "PROXY ";
constexpr std::string_view v1_unknown = "PROXY UNKNOWN";
// "PROXY UNKNOWN\r\n"; a v2 header has 16 bytes at least.
constexpr size_t shortest_header = 15;
constexpr size_t v1_longest = 107;
constexpr size_t v2_fixed = 16;
constexpr size_t unix_path_size = 108;
static_assert(sizeof(sockaddr_un{}.sun_path) == unix_path_size, "a v2 unix address fills sun_path exactly");

// The high and low nibbles of the v2 family byte.
enum : uint8_t { family_unspec, family_inet, family_inet6, family_unix };
enum : uint8_t { transport_unspec, transport_stream, transport_dgram };

size_t block_size(uint8_t family) {
  switch (family) {
    case family_inet: return 2 * 4 + 2 * 2;
    case family_inet6: return 2 * 16 + 2 * 2;
    case family_unix: return 2 * unix_path_size;
  }
  return 0;
}

socklen_t set_ip(sockaddr_storage* out, int family, const void* addr, const void* port) {
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, addr, 4);
    std::memcpy(&in->sin_port, port, 2);
    return sizeof *in;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  std::memcpy(&in6->sin6_addr, addr, 16);
  std::memcpy(&in6->sin6_port, port, 2);
  return sizeof *in6;
}

socklen_t set_unix(sockaddr_storage* out, const void* path) {
  auto* un = reinterpret_cast<sockaddr_un*>(out);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path, unix_path_size);
  return sizeof *un;
}

// Splits at every space; more fields than `fields` holds gives size() + 1.
template <size_t N>
size_t split(std::string_view line, std::array<std::string_view, N>& fields) {
  size_t n = 0, start = 0;
  for (;;) {
    if (n == N) return N + 1;
    size_t space = line.find(' ', start);
    fields[n++] = line.substr(start, space == std::string_view::npos ? space : space - start);
    if (space == std::string_view::npos) return n;
    start = space + 1;
  }
}

// The text forbids leading zeros, which some readers take for octal.
bool parse_v1_port(std::string_view s, uint16_t* network_order) {
  if (s.size() > 1 && s[0] == '0') return false;
  auto port = parse_port(s);
  if (port) *network_order = htons(*port);
  return port.has_value();
}

// inet_pton() reads a C string: the character check keeps a NUL or any
// other byte from cutting the field short. glibc refuses leading zeros in
// IPv4, as the text asks.
bool parse_ip(std::string_view s, int family, uint8_t* out) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  auto allowed = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; };
  if (!std::all_of(s.begin(), s.end(), allowed)) return false;
  return inet_pton(family, std::string(s).c_str(), out) == 1;
}

}  // namespace

size_t ProxyHeaderParser::feed(std::string_view bytes) {
  size_t used = 0;
  while (used < bytes.size() && status_ == Status::need_more) {
    if (header_.version == 2 && seen_ >= buf_.size() && seen_ < tlv_next_) {
      // Past the largest address block only TLVs remain: their values are
      // skipped unread, up to the next TLV's own 3 bytes.
      size_t n = std::min({bytes.size() - used, total_ - seen_, tlv_next_ - seen_});
      seen_ += n;
      used += n;
      if (seen_ == total_) finish_v2();
    } else {
      take(static_cast<uint8_t>(bytes[used++]));
    }
  }
  return used;
}

size_t ProxyHeaderParser::want() const {
  if (status_ != Status::need_more) return 0;
  if (seen_ == 0) return shortest_header;
  if (header_.version == 2) return (total_ ? total_ : v2_fixed) - seen_;
  size_t to_crlf = buf_[seen_ - 1] == '\r' ? 1 : 2;
  return std::max(to_crlf, shortest_header - std::min(seen_, shortest_header));
}

void ProxyHeaderParser::fail(const char* why) {
  status_ = Status::bad;
  reason_ = why;
}

// The first byte tells the versions apart; any other fails the signature.
void ProxyHeaderParser::take(uint8_t byte) {
  if (seen_ == 0) header_.version = byte == v1_signature[0] ? 1 : 2;
  if (header_.version == 1) take_v1(byte);
  else take_v2(byte);
}

void ProxyHeaderParser::take_v1(uint8_t byte) {
  size_t at = seen_++;
  buf_[at] = byte;
  bool after_cr = at > 0 && buf_[at - 1] == '\r';
  if (at < v1_signature.size() && byte != static_cast<uint8_t>(v1_signature[at])) fail("bad signature");
  // A lone CR or LF must not end the line: the client's own line could
  // then pass for the header's end.
  else if (after_cr != (byte == '\n')) fail("v1 line not ended by CRLF");
  else if (after_cr) parse_v1_line();
  else if (seen_ == v1_longest) fail("v1 line longer than 107 bytes");
}

void ProxyHeaderParser::parse_v1_line() {
  std::string_view line(reinterpret_cast<const char*>(buf_.data()), seen_ - 2);
  if (line.starts_with(v1_unknown) && (line.size() == v1_unknown.size() || line[v1_unknown.size()] == ' ')) {
    status_ = Status::done;
    return;
  }
  std::array<std::string_view, 6> field;
  if (split(line, field) != field.size()) return fail("v1 wrong number of fields");
  int family = field[1] == "TCP4" ? AF_INET : field[1] == "TCP6" ? AF_INET6 : AF_UNSPEC;
  if (family == AF_UNSPEC) return fail("v1 unknown protocol");
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  if (!parse_ip(field[2], family, src) || !parse_ip(field[3], family, dst)) return fail("v1 bad address");
  if (!parse_v1_port(field[4], &sport) || !parse_v1_port(field[5], &dport)) return fail("v1 bad port");
  header_.command = ProxyCommand::proxy;
  header_.address_len = set_ip(&header_.source, family, src, &sport);
  set_ip(&header_.destination, family, dst, &dport);
  status_ = Status::done;
}

void ProxyHeaderParser::take_v2(uint8_t byte) {
  size_t at = seen_++;
  if (at < buf_.size()) buf_[at] = byte;
  if (at < v2_fixed) return take_v2_fixed(at);
  if (at >= tlv_next_) take_tlv_header(at - tlv_next_, byte);
  if (status_ == Status::need_more && seen_ == total_) finish_v2();
}

// Byte i (type, then a 16-bit length) of the TLV that starts at tlv_next_.
// The text lets a receiver ignore TLVs, not misread them: one that runs
// past the header's length means the length, or the sender, is wrong.
void ProxyHeaderParser::take_tlv_header(size_t i, uint8_t byte) {
  if (i == 1) tlv_length_ = size_t{byte} << 8;
  if (i != 2) return;
  tlv_next_ += 3 + (tlv_length_ | byte);
  if (tlv_next_ > total_) fail("v2 TLV runs past the header's length");
}

void ProxyHeaderParser::take_v2_fixed(size_t at) {
  uint8_t byte = buf_[at];
  if (at < sizeof v2_signature && byte != v2_signature[at]) fail("bad signature");
  else if (at == 12 && byte >> 4 != 2) fail("v2 bad version");
  else if (at == 12 && (byte & 0xf) > 1) fail("v2 bad command");
  else if (at == 13 && is_proxy()) check_v2_family();
  else if (at == 15) check_v2_length();
}

bool ProxyHeaderParser::is_proxy() const { return (buf_[12] & 0xf) == 1; }

// The text has LOCAL ignore the family; for PROXY, unknown values must be
// refused. A datagram client cannot be relayed over a stream connection.
void ProxyHeaderParser::check_v2_family() {
  if (buf_[13] >> 4 > family_unix) fail("v2 unknown address family");
  else if ((buf_[13] & 0xf) > transport_dgram) fail("v2 unknown transport");
  else if ((buf_[13] & 0xf) == transport_dgram) fail("v2 datagram transport on a stream connection");
}

// A PROXY header of an unspecified family or transport carries no address
// worth believing; the socket's own stand, as for LOCAL.
bool ProxyHeaderParser::has_addresses() const {
  return is_proxy() && buf_[13] >> 4 != family_unspec && (buf_[13] & 0xf) != transport_unspec;
}

// A header whose addresses count has its TLVs checked for length too; the
// rest of a LOCAL or unspecified one is ignored whole, as the text says.
void ProxyHeaderParser::check_v2_length() {
  total_ = v2_fixed + (size_t{buf_[14]} << 8 | buf_[15]);
  if (has_addresses()) tlv_next_ = v2_fixed + block_size(buf_[13] >> 4);
  if (has_addresses() && total_ < tlv_next_) fail("v2 length shorter than its address block");
  else if (seen_ == total_) finish_v2();
}

void ProxyHeaderParser::finish_v2() {
  if (has_addresses() && tlv_next_ != total_) return fail("v2 TLV runs past the header's length");
  status_ = Status::done;
  if (!has_addresses()) return;
  header_.command = ProxyCommand::proxy;
  const uint8_t* block = buf_.data() + v2_fixed;
  switch (buf_[13] >> 4) {
    case family_inet:
      header_.address_len = set_ip(&header_.source, AF_INET, block, block + 8);
      set_ip(&header_.destination, AF_INET, block + 4, block + 10);
      break;
    case family_inet6:
      header_.address_len = set_ip(&header_.source, AF_INET6, block, block + 32);
      set_ip(&header_.destination, AF_INET6, block + 16, block + 34);
      break;
    default:
      header_.address_len = set_unix(&header_.source, block);
      set_unix(&header_.destination, block + unix_path_size);
  }
}

namespace {

ProxyRead bad_read(ProxyRead r, std::string why) {
  r.result = ProxyRead::Result::bad;
  r.why = std::move(why);
  return r;
}

// Waits until `fd` has bytes (or EOF) by the deadline: 1 ready, 0 out of
// time, -1 stopped by a signal and stop().
int wait_readable(int fd, int64_t deadline_ms, bool (*stop)()) {
  for (;;) {
    int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
    if (n > 0) return 1;
    if (n < 0 && errno == EINTR && stop && stop()) return -1;
    if (n < 0 && errno != EINTR) return 1;  // recv() will say what it is
  }
}

}  // namespace

// Peeks what has come, lets the parser take what belongs to the header,
// and reads exactly that much: two calls for a header that comes whole.
ProxyRead read_proxy_header(int fd, int64_t deadline_ms, bool (*stop)()) {
  ProxyRead r;
  ProxyHeaderParser parser;
  char buf[1024];
  while (parser.status() == ProxyHeaderParser::Status::need_more) {
    int ready = wait_readable(fd, deadline_ms, stop);
    if (ready < 0) {
      r.result = ProxyRead::Result::stopped;
      return r;
    }
    if (ready == 0) return bad_read(r, "no complete PROXY header in time");
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return bad_read(r, "connection closed inside the PROXY header");
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return bad_read(r, std::string("reading the PROXY header: ") + std::strerror(errno));
    size_t take = parser.feed(std::string_view(buf, static_cast<size_t>(n)));
    // Peeked bytes are there to read: recv() returns them at once.
    for (size_t left = take; left > 0;) {
      ssize_t got = recv(fd, buf, left, MSG_DONTWAIT);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return bad_read(r, "the PROXY header could not be read back");
      left -= static_cast<size_t>(got);
      r.bytes += static_cast<uint64_t>(got);
    }
  }
  if (parser.status() == ProxyHeaderParser::Status::bad) return bad_read(r, std::string(parser.reason()));
  r.result = ProxyRead::Result::done;
  r.header = parser.header();
  return r;
}

}  // namespace ws
