#include "wsserver/ws_transport.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "wsserver/clock.hpp"
#include "wsserver/log.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/utf8.hpp"
#include "wsserver/ws_handshake.hpp"

namespace ws {
namespace {

constexpr int64_t handshake_limit_ms = 10000;
constexpr int linger_ms = 1000;

uint16_t code_for(CloseReason reason) {
  switch (reason) {
    case CloseReason::exit_command: return close_code::normal;
    case CloseReason::auth_failed:
    case CloseReason::unauthenticated: return 1008;  // policy violation
    default: return close_code::going_away;
  }
}

}  // namespace

void WebSocketTransport::end(std::string& wire, std::string& reply) const {
  Opcode kind = binary_ || !valid_utf8(reply) ? Opcode::binary : Opcode::text;
  wire.append(encode_frame(kind, reply));
  reply.clear();
}

Session::Result WebSocketTransport::receive(std::string_view bytes, Session& session, Replies& out) {
  size_t used = 0;
  // Nothing a client sends after its close frame or its error is read.
  while (!ended_) {
    used += decoder_.feed(bytes.substr(used));
    if (decoder_.status() == FrameDecoder::Status::need_more) break;
    if (decoder_.status() == FrameDecoder::Status::error) {
      ended_ = decoder_.error_code() == close_code::too_big ? CloseReason::too_long : CloseReason::protocol_error;
      log::debug("WebSocket client closed with %u: %.*s", decoder_.error_code(),
                 static_cast<int>(decoder_.reason().size()), decoder_.reason().data());
      send_close(decoder_.error_code(), decoder_.reason(), out);
      break;
    }
    Session::Step step = on_event(decoder_.event(), session, out);
    decoder_.next();
    if (step != Session::Step::more) return {step, used};
  }
  return {Session::Step::more, bytes.size()};
}

Session::Step WebSocketTransport::on_event(const FrameEvent& e, Session& session, Replies& out) {
  switch (e.kind) {
    case Opcode::text:
    case Opcode::binary: {
      binary_ = e.kind == Opcode::binary;
      Session::Step step = session.message_part(e.payload, true, out);
      binary_ = false;
      return step;
    }
    case Opcode::ping: out.append_framed(encode_frame(Opcode::pong, e.payload)); break;
    case Opcode::close:
      ended_ = CloseReason::client_closed;
      // Its own code echoed; an empty close gets an empty one.
      if (!close_sent_) out.append_framed(encode_close(e.code));
      close_sent_ = true;
      break;
    default: break;  // a pong nobody asked for
  }
  return Session::Step::more;
}

void WebSocketTransport::close(CloseReason reason, Replies& out) {
  send_close(code_for(reason), close_reason_name(reason), out);
}

void WebSocketTransport::send_close(uint16_t code, std::string_view why, Replies& out) {
  if (close_sent_) return;
  close_sent_ = true;
  out.append_framed(encode_close(code, why));
}

namespace {

struct Request {
  HandshakeParser parser;
  std::string rest;  // bytes behind the request: the first frames
};

// Reads until the request is answered, the client goes, the deadline or
// a fast stop; false when no answer was decided.
bool read_request(int fd, Request& r, int64_t deadline, ConnectionTotals* totals, std::optional<CloseReason>* why) {
  char buf[4096];
  while (!r.parser.done()) {
    int64_t left = deadline - monotonic_ms();
    pollfd p{fd, POLLIN, 0};
    int n = left > 0 ? poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX))) : 0;
    if (signals::peek(worker_signal::stop_now)) return *why = CloseReason::shutdown, false;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return false;
    totals->in += static_cast<uint64_t>(got);
    std::string_view bytes(buf, static_cast<size_t>(got));
    size_t used = r.parser.feed(bytes);
    if (r.parser.done()) r.rest.assign(bytes.substr(used));
  }
  return true;
}

bool answer(int fd, std::string_view bytes, ConnectionTotals* totals) {
  totals->out += bytes.size();
  return send_all(fd, bytes, [] { return signals::peek(worker_signal::stop_now); }) == 0;
}

}  // namespace

std::optional<CloseReason> open_websocket(int fd, const ConnectionContext& c, ConnectionTotals* totals,
                                          std::string* first_frames) {
  Request r{HandshakeParser(c.config->ws_origins), {}};
  int64_t limit = handshake_limit_ms;
  if (c.config->idle_timeout > 0) limit = std::min<int64_t>(limit, int64_t{c.config->idle_timeout} * 1000);
  std::optional<CloseReason> stopped;
  if (!read_request(fd, r, monotonic_ms() + limit, totals, &stopped)) {
    log::debug("WebSocket handshake: none complete");
    close_lingering(fd, 0);
    return stopped.value_or(CloseReason::handshake);
  }
  HandshakeAnswer a = r.parser.answer();
  if (a == HandshakeAnswer::upgrade) {
    if (!answer(fd, handshake_response(r.parser), totals)) {
      close_lingering(fd, 0);
      return CloseReason::reset;
    }
    *first_frames = std::move(r.rest);
    return std::nullopt;
  }
  static const std::string no_page;
  const std::string& page = c.ws_page ? *c.ws_page : no_page;
  if (a == HandshakeAnswer::page) answer(fd, page_response_head(page.size()) + page, totals);
  else answer(fd, handshake_response(r.parser), totals);
  log::debug("WebSocket handshake answered %d: %.*s", status_code(a), static_cast<int>(r.parser.reason().size()),
             r.parser.reason().data());
  close_lingering(fd, linger_ms);
  return CloseReason::handshake;
}

}  // namespace ws
