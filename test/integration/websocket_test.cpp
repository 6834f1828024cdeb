// ws: listeners (SPEC section 10) with real clients over real sockets: the
// handshake's answers, then a case set that follows the Autobahn
// testsuite's categories (framing, pings and pongs, reserved bits, opcodes,
// fragmentation, UTF-8 handling, limits, close handling), then what every
// listener has (auth, allow/deny, idle timeout, chat, access log).
#include <signal.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "../support/server.hpp"
#include "../support/wait.hpp"
#include "../support/ws_client.hpp"

using namespace std::chrono_literals;
using test::Server;
using test::WsClient;
namespace wsop = test::wsop;

namespace {

// Two workers unless `more` says how many.
std::vector<std::string> ws_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--listen", "ws:127.0.0.1:0", "--log_level", "debug"};
  if (std::find(more.begin(), more.end(), "--workers") == more.end()) args.insert(args.end(), {"--workers", "2"});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

WsClient open(const Server& s, const std::string& extra = "") {
  std::string why;
  auto c = WsClient::open(s.port(), &why, extra);
  INFO(why);
  REQUIRE(c);
  return std::move(*c);
}

WsClient::HttpAnswer answer_to(const Server& s, const std::string& request) {
  WsClient c = WsClient::raw(s.port(), request);
  auto a = c.http_answer();
  REQUIRE(a);
  // Every answer but 101 is the last word: the server closes.
  CHECK(c.closed_within(3s));
  return *a;
}

// The connection ends with a close frame carrying `code`, after which the
// server closes TCP.
void check_closed_with(WsClient& c, uint16_t code) {
  auto got = c.close_code();
  INFO(c.last_error());
  REQUIRE(got);
  CHECK(*got == code);
  CHECK(c.closed_within(3s));
}

}  // namespace

// ---- handshake -------------------------------------------------------------

TEST_CASE("ws: the handshake gets 101 with RFC 6455's accept, then each message is served as a frame", "[websocket]") {
  Server s(ws_args());
  WsClient c = open(s);
  REQUIRE(c.send_text("a b\tc"));
  CHECK(c.message() == "abc");
  REQUIRE(c.send_text("d e"));
  auto f = c.frame();
  REQUIRE(f);
  CHECK(f->opcode == wsop::text);
  CHECK(f->fin);
  CHECK_FALSE(f->masked);
  CHECK(f->payload == "de");  // no reply terminator
}

TEST_CASE("ws: GET / answers the built-in chat page, other paths 404", "[websocket]") {
  Server s(ws_args());
  auto page = answer_to(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(page.status == 200);
  CHECK_THAT(page.header("content-type"), Catch::StartsWith("text/html"));
  CHECK(page.body == test::read_file("etc/chat.html"));
  CHECK(answer_to(s, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
}

TEST_CASE("ws: ws_page serves another file, read at start and again on reload", "[websocket]") {
  test::TempDir files;
  std::string path = files.write("mine.html", "<p>mine</p>\n");
  Server s(ws_args({"--ws_page", path}));
  CHECK(answer_to(s, "GET /?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").body == "<p>mine</p>\n");
  files.write("mine.html", "<p>changed</p>\n");
  s.signal(SIGHUP);
  REQUIRE(test::wait_until([&] {
    WsClient c = WsClient::raw(s.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.http_answer();
    return a && a->body == "<p>changed</p>\n";
  }, 10s));
}

TEST_CASE("ws: refused handshakes get 426, 400, 431, 403 and 405", "[websocket]") {
  Server s(ws_args({"--ws_origins", "https://good.example"}));
  auto old = answer_to(s, test::ws_request("/", "", "dGhlIHNhbXBsZSBub25jZQ==", "8"));
  CHECK(old.status == 426);
  CHECK(old.header("sec-websocket-version") == "13");
  CHECK(answer_to(s, test::ws_request("/", "", "short")).status == 400);
  CHECK(answer_to(s, "GET / HTTP/1.1\r\nHost x\r\n\r\n").status == 400);
  CHECK(answer_to(s, test::ws_request("/", "X-Big: " + std::string(9000, 'a') + "\r\n")).status == 431);
  CHECK(answer_to(s, test::ws_request("/", "Origin: https://evil.example\r\n")).status == 403);
  CHECK(answer_to(s, "POST / HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
  open(s, "Origin: https://GOOD.example\r\n");
}

TEST_CASE("ws: a handshake and first frame split one byte per packet are served", "[websocket]") {
  Server s(ws_args());
  WsClient c(test::Client::connect(s.port()));
  REQUIRE(c.send_bytewise(test::ws_request() + test::ws_frame_bytes(wsop::text, "x y z")));
  auto a = c.http_answer();
  REQUIRE(a);
  CHECK(a->status == 101);
  CHECK(c.message() == "xyz");
}

// ---- framing ---------------------------------------------------------------

TEST_CASE("ws framing: 7-bit, 16-bit and 64-bit lengths, several frames in one packet", "[websocket]") {
  Server s(ws_args({"--service", "echo", "--max_message", "200000"}));
  WsClient c = open(s);
  for (size_t n : {0, 1, 125, 126, 65535, 65536, 200000}) {
    INFO(n);
    std::string text(n, 'x');
    REQUIRE(c.send_text(text));
    CHECK(c.message(10s) == text);
  }
  // A length need not be in its shortest form (RFC 6455 asks it of senders).
  REQUIRE(c.send_raw(test::ws_frame_bytes(wsop::text, "long form", true, true, 0, 8)));
  CHECK(c.message() == "long form");
  std::string burst;
  for (int i = 0; i < 50; ++i) burst += test::ws_frame_bytes(wsop::text, "m" + std::to_string(i));
  REQUIRE(c.send_raw(burst));
  for (int i = 0; i < 50; ++i) REQUIRE(c.message() == "m" + std::to_string(i));
}

TEST_CASE("ws framing: a binary message gets a binary reply with its bytes intact", "[websocket]") {
  Server s(ws_args({"--service", "echo"}));
  WsClient c = open(s);
  std::string bytes;
  for (int i = 1; i < 256; ++i) bytes += static_cast<char>(i == '\n' || i == '\r' ? 'a' : i);
  REQUIRE(c.send(wsop::binary, bytes));
  auto f = c.frame();
  REQUIRE(f);
  CHECK(f->opcode == wsop::binary);
  CHECK(f->payload == bytes);
}

TEST_CASE("ws framing: an unmasked client frame closes with 1002", "[websocket]") {
  Server s(ws_args());
  WsClient c = open(s);
  REQUIRE(c.send_raw(test::ws_frame_bytes(wsop::text, "hello", true, false)));
  check_closed_with(c, 1002);
}

// ---- pings and pongs -------------------------------------------------------

TEST_CASE("ws ping: pongs carry the ping's payload, also between fragments; pongs are ignored", "[websocket]") {
  Server s(ws_args({"--service", "echo"}));
  WsClient c = open(s);
  for (std::string payload : {std::string(), std::string("hi"), std::string(125, '*')}) {
    REQUIRE(c.send(wsop::ping, payload));
    auto f = c.frame();
    REQUIRE(f);
    CHECK(f->opcode == wsop::pong);
    CHECK(f->payload == payload);
  }
  REQUIRE(c.send(wsop::pong, "unasked"));
  REQUIRE(c.send(wsop::text, "fir", false));
  REQUIRE(c.send(wsop::ping, "mid"));
  REQUIRE(c.send(wsop::continuation, "st"));
  auto pong = c.frame();
  REQUIRE(pong);
  CHECK(pong->opcode == wsop::pong);
  CHECK(pong->payload == "mid");
  CHECK(c.message() == "first");
}

TEST_CASE("ws ping: a ping over 125 bytes closes with 1002", "[websocket]") {
  Server s(ws_args());
  WsClient c = open(s);
  REQUIRE(c.send(wsop::ping, std::string(126, 'p')));
  check_closed_with(c, 1002);
}

// ---- reserved bits and opcodes ---------------------------------------------

TEST_CASE("ws reserved: any reserved bit or opcode closes with 1002", "[websocket]") {
  Server s(ws_args({"--workers", "3"}));
  for (uint8_t rsv : {1, 2, 4}) {
    WsClient c = open(s);
    REQUIRE(c.send_raw(test::ws_frame_bytes(wsop::text, "x", true, true, rsv)));
    check_closed_with(c, 1002);
  }
  for (uint8_t opcode : {3, 7, 11, 15}) {
    INFO(int(opcode));
    WsClient c = open(s);
    REQUIRE(c.send(opcode, "x"));
    check_closed_with(c, 1002);
  }
}

// ---- fragmentation ---------------------------------------------------------

TEST_CASE("ws fragmentation: fragments are one message; bad sequences close with 1002", "[websocket]") {
  Server s(ws_args({"--workers", "3"}));
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::text, "a ", false));
    REQUIRE(c.send(wsop::continuation, "", false));
    REQUIRE(c.send(wsop::continuation, " b"));
    CHECK(c.message() == "ab");
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::continuation, "no start"));
    check_closed_with(c, 1002);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::text, "one", false));
    REQUIRE(c.send(wsop::text, "two"));
    check_closed_with(c, 1002);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::ping, "frag", false));
    check_closed_with(c, 1002);
  }
}

// ---- UTF-8 -----------------------------------------------------------------

TEST_CASE("ws utf-8: characters split across fragments pass; invalid text closes with 1007", "[websocket]") {
  Server s(ws_args({"--workers", "3"}));
  {
    WsClient c = open(s);
    std::string text = "κόσμε \xf0\x9f\x98\x80";  // split inside both characters
    REQUIRE(c.send(wsop::text, text.substr(0, 3), false));
    REQUIRE(c.send(wsop::continuation, text.substr(3, 9), false));
    REQUIRE(c.send(wsop::continuation, text.substr(12)));
    CHECK(c.message() == "κόσμε\xf0\x9f\x98\x80");
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::text, "ok so far", false));
    REQUIRE(c.send(wsop::continuation, "\xed\xa0\x80"));  // a surrogate
    check_closed_with(c, 1007);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send_text("\xc0\xaf"));  // overlong
    check_closed_with(c, 1007);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::binary, "\xc0\xaf"));  // binary is not text
    CHECK(c.message() == "\xc0\xaf");
  }
}

// ---- limits ----------------------------------------------------------------

TEST_CASE("ws limits: a message over max_message closes with 1009, for strip too", "[websocket]") {
  for (const char* service : {"strip", "echo", "chat"}) {
    INFO(service);
    Server s(ws_args({"--service", service, "--max_message", "1000"}));
    WsClient fits = open(s);
    if (std::string(service) != "chat") {
      REQUIRE(fits.send_text(std::string(1000, 'y')));
      CHECK(fits.message() == std::string(1000, 'y'));
    }
    WsClient c = open(s);
    REQUIRE(c.send(wsop::text, std::string(600, 'z'), false));
    REQUIRE(c.send(wsop::continuation, std::string(401, 'z')));
    check_closed_with(c, 1009);
  }
}

// ---- close handling --------------------------------------------------------

TEST_CASE("ws close: a client's close is answered with the same code and the server closes TCP", "[websocket]") {
  Server s(ws_args({"--workers", "3"}));
  {
    WsClient c = open(s);
    REQUIRE(c.send_raw(test::ws_close_bytes(1000, "bye")));
    check_closed_with(c, 1000);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::close, ""));
    auto code = c.close_code();
    REQUIRE(code);
    CHECK((*code == 1005 || *code == 1000));  // an empty close, or one naming 1000
    CHECK(c.closed_within(3s));
  }
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 2000, 5000}) {
    INFO(bad);
    WsClient c = open(s);
    REQUIRE(c.send_raw(test::ws_close_bytes(bad)));
    check_closed_with(c, 1002);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send(wsop::close, "x"));  // a 1-byte payload
    check_closed_with(c, 1002);
  }
  {
    WsClient c = open(s);
    REQUIRE(c.send_raw(test::ws_close_bytes(1000, "\xff")));
    check_closed_with(c, 1007);
  }
}

TEST_CASE("ws close: exit and quit close with 1000", "[websocket]") {
  Server s(ws_args());
  for (const char* word : {"exit", " QUIT "}) {
    WsClient c = open(s);
    REQUIRE(c.send_text(word));
    check_closed_with(c, 1000);
    CHECK(c.skipped().empty());
  }
}

TEST_CASE("ws close: the idle timeout says ERR idle timeout, then closes with 1001", "[websocket]") {
  Server s(ws_args({"--idle_timeout", "1"}));
  WsClient c = open(s);
  auto start = test::Clock::now();
  check_closed_with(c, 1001);
  CHECK(test::Clock::now() - start >= 900ms);
  REQUIRE(c.skipped().size() == 1);
  CHECK(c.skipped()[0].opcode == wsop::text);
  CHECK(c.skipped()[0].payload == "ERR idle timeout");
}

TEST_CASE("ws close: a server stop closes with 1001", "[websocket]") {
  Server s(ws_args());
  WsClient c = open(s);
  REQUIRE(c.send_text("a b"));
  REQUIRE(c.message() == "ab");
  s.signal(SIGINT);
  check_closed_with(c, 1001);
  CHECK(s.wait_exit(10s) == 0);
}

// ---- what every listener has -----------------------------------------------

TEST_CASE("ws: AUTH is asked and checked over WebSocket like over TCP", "[websocket]") {
  test::TempDir files;
  std::string secret = files.write("secret", "s3cret\n", 0600);
  Server s(ws_args({"--auth_file", secret}));
  WsClient c = open(s);
  REQUIRE(c.send_text("a b"));
  CHECK(c.message() == "ERR authentication required");
  REQUIRE(c.send_text("AUTH s3cret"));
  CHECK(c.message() == "OK");
  REQUIRE(c.send_text("a b"));
  CHECK(c.message() == "ab");
}

TEST_CASE("ws: a denied client is closed before any handshake answer, and logged", "[websocket]") {
  test::TempDir files;
  Server s(ws_args({"--deny", "127.0.0.0/8", "--access_log", files.file("access.log")}));
  WsClient c = WsClient::raw(s.port(), test::ws_request());
  CHECK_FALSE(c.http_answer(3s));
  CHECK(c.closed_within(3s));
  CHECK(test::wait_until([&] { return !test::read_file(files.file("access.log")).empty(); }));
}

TEST_CASE("ws: chat reaches WebSocket and TCP clients alike, each in its own framing", "[websocket]") {
  Server s({"--listen", "ws:127.0.0.1:0", "127.0.0.1:0", "--service", "chat", "--workers", "3",
            "--reply_terminator", "lf"});
  WsClient a = open(s);
  WsClient b = open(s);
  test::Client tcp = test::Client::connect(s.port(1));
  // Chat clients join when their worker first looks at the ring; a message
  // sent before that may not reach them, so the test waits for each to hear.
  REQUIRE(test::wait_until([&] {
    a.send_text("ping");
    auto got = b.message(200ms);
    return got && *got == "ping";
  }, 10s));
  REQUIRE(tcp.send("from tcp\n"));
  std::optional<std::string> heard;
  REQUIRE(test::wait_until([&] { return (heard = a.message(200ms)) && *heard == "from tcp"; }, 5s));
  REQUIRE(a.send_text("to all"));
  CHECK(test::wait_until([&] { auto m = b.message(200ms); return m && *m == "to all"; }, 5s));
  std::optional<std::string> line;
  CHECK(test::wait_until([&] { return (line = tcp.reply(200ms, '\n')) && *line == "to all"; }, 5s));
}

TEST_CASE("ws: the access log has one line per WebSocket client with why it closed", "[websocket]") {
  test::TempDir files;
  std::string log = files.file("access.log");
  Server s(ws_args({"--access_log", log}));
  WsClient c = open(s);
  REQUIRE(c.send_text("a b"));
  REQUIRE(c.message() == "ab");
  REQUIRE(c.send_text("exit"));
  check_closed_with(c, 1000);
  REQUIRE(test::wait_until([&] { return test::read_file(log).find("exit") != std::string::npos; }));
  CHECK_THAT(test::read_file(log), Catch::Contains("127.0.0.1"));
}

TEST_CASE("ws: with every worker busy and overflow reject, a WebSocket client gets HTTP 503", "[websocket]") {
  Server s(ws_args({"--workers", "1", "--max_workers", "1", "--overflow", "reject"}));
  WsClient busy = open(s);
  REQUIRE(busy.send_text("a b"));
  REQUIRE(busy.message() == "ab");
  WsClient extra = WsClient::raw(s.port(), test::ws_request());
  auto a = extra.http_answer();
  REQUIRE(a);
  CHECK(a->status == 503);
  CHECK(a->body == "ERR too many clients\n");
  CHECK(extra.closed_within(3s));
}

TEST_CASE("ws: a client over max_per_ip gets HTTP 429", "[websocket]") {
  Server s(ws_args({"--workers", "3", "--max_per_ip", "1"}));
  WsClient first = open(s);
  REQUIRE(first.send_text("a b"));
  REQUIRE(first.message() == "ab");
  WsClient second = WsClient::raw(s.port(), test::ws_request());
  auto a = second.http_answer();
  REQUIRE(a);
  CHECK(a->status == 429);
  CHECK(a->body == "ERR too many connections from your address\n");
}

TEST_CASE("ws: the log and -s status name a ws: listener with its prefix", "[websocket]") {
  Server s({"--listen", "ws:127.0.0.1:0", "127.0.0.1:0", "--workers", "1"});
  CHECK_THAT(s.addresses()[0], Catch::StartsWith("ws:127.0.0.1:"));
  CHECK_THAT(s.addresses()[1], Catch::StartsWith("127.0.0.1:"));
  CHECK(s.log_count("listening on ws:127.0.0.1:" + std::to_string(s.port(0))) == 1);
}

TEST_CASE("ws: a ws:unix: listener speaks WebSocket over a Unix socket", "[websocket]") {
  test::TempDir files;
  std::string path = files.file("ws.sock");
  Server s({"--listen", "ws:unix:" + path, "--workers", "1"});
  WsClient c(test::Client::connect_unix(path));
  REQUIRE(c.send_raw(test::ws_request() + test::ws_frame_bytes(wsop::text, "u n i x")));
  auto a = c.http_answer();
  REQUIRE(a);
  CHECK(a->status == 101);
  CHECK(c.message() == "unix");
}
