// wsbench's WebSocket client side (src/wsbench/ws_wire.cpp), checked against
// the server's own RFC 6455 code: what wsbench sends must decode as one
// masked client message, what it expects must be the server's frame, and
// its handshake must accept exactly the server's 101.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "../../src/wsbench/clock.hpp"
#include "../../src/wsbench/ws_wire.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/ws_frame.hpp"
#include "wsserver/ws_handshake.hpp"

namespace {

wsbench::Message plain(const std::string& body, const std::string& reply) {
  wsbench::Message m;
  m.body = body;
  m.reply = reply;
  return m;
}

// The server's handshake parser, fed what wsbench sent; its answer, or
// `answer` when given, goes back.
std::string serve_handshake(int fd, const std::string& answer) {
  ws::HandshakeParser parser;
  char buf[4096];
  while (!parser.done()) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return "";
    parser.feed({buf, static_cast<size_t>(n)});
  }
  std::string reply = answer.empty() ? ws::handshake_response(parser) : answer;
  if (write(fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return "";
  return reply;
}

bool upgrade_against(const std::string& answer, std::string* error) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  ws::Fd client(fds[0]), server(fds[1]);
  std::thread peer([&] { serve_handshake(server.get(), answer); });
  bool ok = wsbench::websocket_upgrade(client.get(), "127.0.0.1", 7, wsbench::now_ns() + 5'000'000'000, error);
  peer.join();
  return ok;
}

}  // namespace

TEST_CASE("ws_wire: each message is one masked binary frame the server decodes, at every payload length class") {
  for (size_t size : {size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}}) {
    INFO(size);
    std::string body(size, '\x9f');
    wsbench::Message m = wsbench::websocket_message(plain(body, "x"), 42);
    ws::FrameDecoder decoder(1 << 20);
    std::string wire = m.body + m.terminator;
    REQUIRE(decoder.feed(wire) == wire.size());
    REQUIRE(decoder.status() == ws::FrameDecoder::Status::event);
    CHECK(decoder.event().kind == ws::Opcode::binary);
    CHECK(decoder.event().payload == body);
  }
}

TEST_CASE("ws_wire: the reply expected is the server's own binary frame") {
  wsbench::Message m = wsbench::websocket_message(plain("a b", "ab"), 1);
  CHECK(m.reply + m.reply_end == ws::encode_frame(ws::Opcode::binary, "ab"));
}

TEST_CASE("ws_wire: the handshake takes the server's 101 and refuses anything else") {
  std::string error;
  CHECK(upgrade_against("", &error));
  CHECK_FALSE(upgrade_against("HTTP/1.1 426 Upgrade Required\r\n\r\n", &error));
  CHECK_THAT(error, Catch::Contains("426"));
  CHECK_FALSE(upgrade_against(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      &error));
  CHECK_THAT(error, Catch::Contains("Sec-WebSocket-Accept"));
}
