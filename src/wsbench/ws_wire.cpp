#include "ws_wire.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>

#include "clock.hpp"
#include "wsserver/base64.hpp"
#include "wsserver/ws_frame.hpp"
#include "wsserver/ws_handshake.hpp"

namespace wsbench {
namespace {

constexpr size_t max_answer = 8192;

// A client frame: the server's frame (ws_frame.hpp) with the mask bit set,
// the masking key after the header and the payload XORed with it (RFC 6455
// section 5.3).
std::string masked_frame(std::string_view payload, const uint8_t (&mask)[4]) {
  std::string out = ws::encode_frame(ws::Opcode::binary, payload);
  size_t header = out.size() - payload.size();
  out[1] = static_cast<char>(out[1] | 0x80);
  out.insert(header, reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) out[header + 4 + i] ^= static_cast<char>(mask[i % 4]);
  return out;
}

// Splits `bytes` before its last byte.
void split(const std::string& bytes, std::string* head, char* last) {
  *head = bytes.substr(0, bytes.size() - 1);
  *last = bytes.back();
}

bool send_all(int fd, const std::string& bytes, int64_t deadline_ns, std::string* error) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    if (!wait_for(fd, POLLOUT, deadline_ns)) return *error = "handshake: cannot send in time", false;
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN)) continue;
    if (n < 0) return *error = std::string("handshake: send: ") + std::strerror(errno), false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool read_head(int fd, std::string* head, int64_t deadline_ns, std::string* error) {
  char buf[1024];
  while (head->find("\r\n\r\n") == std::string::npos) {
    if (head->size() > max_answer) return *error = "handshake: answer head over 8 KiB", false;
    if (!wait_for(fd, POLLIN, deadline_ns)) return *error = "handshake: no answer in time", false;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return *error = "handshake: server closed: " + head->substr(0, head->find('\r')), false;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return *error = std::string("handshake: recv: ") + std::strerror(errno), false;
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// A header's value; names compare case-insensitively, values do not.
std::string header(const std::string& head, const std::string& name) {
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t start = head.find_first_not_of(" \t", at + name.size() + 3);
  size_t end = head.find('\r', start);
  return head.substr(start, head.find_last_not_of(" \t", end - 1) + 1 - start);
}

}  // namespace

Message websocket_message(const Message& plain, uint64_t seed) {
  std::mt19937_64 random(seed);
  uint8_t mask[4];
  for (auto& m : mask) m = static_cast<uint8_t>(random());
  Message m;
  split(masked_frame(plain.body, mask), &m.body, &m.terminator);
  split(ws::encode_frame(ws::Opcode::binary, plain.reply), &m.reply, &m.reply_end);
  return m;
}

bool websocket_upgrade(int fd, const std::string& host, uint64_t seed, int64_t deadline_ns, std::string* error) {
  std::mt19937_64 random(seed);
  std::string nonce;
  for (int i = 0; i < 16; ++i) nonce += static_cast<char>(random());
  std::string key = ws::base64_encode(nonce);
  std::string request = "GET / HTTP/1.1\r\nHost: " + host +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                        "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  std::string head;
  if (!send_all(fd, request, deadline_ns, error) || !read_head(fd, &head, deadline_ns, error)) return false;
  if (head.rfind("HTTP/1.1 101 ", 0) != 0) return *error = "handshake: " + head.substr(0, head.find('\r')), false;
  if (header(head, "sec-websocket-accept") != ws::websocket_accept(key))
    return *error = "handshake: no or a wrong Sec-WebSocket-Accept", false;
  if (head.size() != head.find("\r\n\r\n") + 4) return *error = "handshake: bytes after the 101", false;
  return true;
}

}  // namespace wsbench
