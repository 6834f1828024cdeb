// What a client sees from the strip service over a real connection.
#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

TEST_CASE("a message is answered stripped and ended by NUL") {
  Server server({"--workers", "2"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("a b\tc\n"));
  CHECK(c.reply() == "abc");
  REQUIRE(c.send(std::string_view(" x \r\n\v\fy\0", 9)));
  CHECK(c.reply() == "x");
  CHECK(c.reply() == "y");
}

TEST_CASE("one byte per packet and many messages per packet give the same replies") {
  Server server({"--workers", "2"});
  std::string input, expected;
  for (int i = 0; i < 300; ++i) {
    input += "msg " + std::to_string(i) + (i % 2 ? '\n' : '\0');
    expected += "msg" + std::to_string(i) + '\0';
  }
  Client bulk = Client::connect(server.port());
  REQUIRE(bulk.send(input));
  bulk.half_close();
  CHECK(bulk.read_to_eof() == expected);

  Client trickle = Client::connect(server.port());
  for (size_t i = 0; i < 200; ++i) REQUIRE(trickle.send(input.substr(i, 1)));
  REQUIRE(trickle.send(input.substr(200)));
  trickle.half_close();
  CHECK(trickle.read_to_eof() == expected);
}

TEST_CASE("an unterminated message is answered when the client half-closes") {
  Server server({"--workers", "1"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("first\nlast words"));
  c.half_close();
  CHECK(c.read_to_eof() == std::string("first\0lastwords\0", 16));
}

TEST_CASE("binary bytes and UTF-8 pass unchanged") {
  Server server({"--workers", "1"});
  Client c = Client::connect(server.port());
  std::string message;
  for (int b = 1; b < 256; ++b)
    if (b != '\n' && b != ' ' && b != '\t' && b != '\v' && b != '\f' && b != '\r') message += static_cast<char>(b);
  REQUIRE(c.send(message + " caf\xc3\xa9\n"));
  CHECK(c.reply() == message + "caf\xc3\xa9");
}

TEST_CASE("reply_terminator lf and crlf") {
  Server lf({"--workers", "1", "--reply_terminator", "lf"});
  Client a = Client::connect(lf.port());
  REQUIRE(a.send("a b\n"));
  CHECK(a.reply(5s, '\n') == "ab");
  Server crlf({"--workers", "1", "--reply_terminator", "crlf"});
  Client b = Client::connect(crlf.port());
  REQUIRE(b.send("a b\n"));
  CHECK(b.reply(5s, '\n') == "ab\r");
}

TEST_CASE("exit and quit close the connection without a reply") {
  Server server({"--workers", "1"});
  for (const char* command : {"exit\n", "  QUIT \r\n", "Exit"}) {
    Client c = Client::connect(server.port());
    REQUIRE(c.send("before\n"));
    CHECK(c.reply() == "before");
    REQUIRE(c.send(command));
    if (std::string(command) == "Exit") c.half_close();
    INFO(command);
    CHECK(c.read_to_eof() == "");
  }
}

TEST_CASE("the echo service answers the message unchanged") {
  Server server({"--workers", "1", "--service", "echo"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send(" a  b \r\n"));
  CHECK(c.reply() == " a  b ");
}
