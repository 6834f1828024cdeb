// Issue 11, finding 6: slow and unauthenticated clients must not hold
// workers, and a guesser must not get unlimited AUTH attempts.
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

const std::string secret = "open sesame";

// A server with a secret file written before it starts.
struct SecretServer {
  test::TempDir scratch;
  std::unique_ptr<Server> server;
  explicit SecretServer(std::vector<std::string> args) {
    args.insert(args.end(), {"--auth_file", scratch.write("secret", secret + "\n", 0600)});
    server = std::make_unique<Server>(args);
  }
};

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("security: a client dripping one byte every 1.2 s is closed at idle_timeout, and the next is served") {
  Server server({"--workers", "1", "--max_workers", "1", "--idle_timeout", "2"});
  Client drip = Client::connect(server.port());
  auto start = test::Clock::now();
  std::optional<std::string> all;  // strip streams each byte back; then the notice and the close
  for (int i = 0; i < 8 && !all; ++i) {  // 9.6 s: far past any deadline the server should keep
    drip.send("a");
    all = drip.read_to_eof(1200ms);
  }
  auto held = test::Clock::now() - start;
  REQUIRE(all);
  CHECK(all->ends_with(std::string("ERR message too slow") + '\0'));
  INFO("held the only worker for " << std::chrono::duration_cast<std::chrono::milliseconds>(held).count() << " ms");
  CHECK(held < 3500ms);
  Client next = Client::connect(server.port());  // the pool's one worker is free again
  REQUIRE(next.send("a b\n"));
  CHECK(next.reply(3s) == "ab");
}

TEST_CASE("security: a chat client dripping one byte every 1.2 s is closed at idle_timeout") {
  Server server({"--workers", "1", "--service", "chat", "--idle_timeout", "2"});
  Client drip = Client::connect(server.port());
  auto start = test::Clock::now();
  std::optional<std::string> all;
  for (int i = 0; i < 8 && !all; ++i) {
    drip.send("a");
    all = drip.read_to_eof(1200ms);
  }
  auto held = test::Clock::now() - start;
  REQUIRE(all);
  CHECK(*all == std::string("ERR message too slow") + '\0');
  CHECK(held < 3500ms);
}

TEST_CASE("security: an unauthenticated client talking every 1.5 s is closed at auth_timeout") {
  SecretServer s({"--workers", "1", "--idle_timeout", "60", "--auth_timeout", "2"});
  Client c = Client::connect(s.server->port());
  auto start = test::Clock::now();
  std::vector<std::string> replies;
  for (int i = 0; i < 6; ++i) {  // 9 s: well past auth_timeout
    if (!c.send("x\n")) break;
    auto reply = c.reply(1500ms);
    if (!reply) continue;
    replies.push_back(*reply);
    if (*reply != "ERR authentication required") break;
    if (!c.quiet_for(1500ms)) {
      if (auto notice = c.reply(1s)) replies.push_back(*notice);
      break;
    }
  }
  auto held = test::Clock::now() - start;
  REQUIRE(!replies.empty());
  CHECK(replies.front() == "ERR authentication required");
  CHECK(replies.back() == "ERR authentication timeout");
  CHECK(c.closed_within(2s));
  CHECK(held < 3500ms);
}

TEST_CASE("security: a silent unauthenticated chat client is closed at auth_timeout") {
  SecretServer s({"--workers", "1", "--service", "chat", "--idle_timeout", "60", "--auth_timeout", "1"});
  Client c = Client::connect(s.server->port());
  CHECK(c.reply(3s) == "ERR authentication timeout");
  CHECK(c.closed_within(2s));
}

TEST_CASE("slow-client limits spare a client that authenticates within auth_timeout") {
  SecretServer s({"--workers", "1", "--idle_timeout", "60", "--auth_timeout", "1"});
  Client c = Client::connect(s.server->port());
  REQUIRE(c.send("AUTH " + secret + "\n"));
  REQUIRE(c.reply() == "OK");
  CHECK(c.quiet_for(1500ms));
  REQUIRE(c.send("a b\n"));
  CHECK(c.reply() == "ab");
}

TEST_CASE("slow-client limits spare a fast 64 MiB strip message (idle_timeout 1)") {
  Server server({"--workers", "1", "--idle_timeout", "1"});
  const std::string chunk = [] {
    std::string s;
    while (s.size() < 65536) s += "ab c\t";
    return s;
  }();
  const size_t chunks = (64u << 20) / chunk.size();
  Client c = Client::connect(server.port());
  std::thread writer([&] {
    for (size_t i = 0; i < chunks; ++i)
      if (!c.send(chunk)) return;
    c.send("\nnext\n");
    c.half_close();
  });
  auto all = c.read_to_eof(120s);
  writer.join();
  REQUIRE(all);
  size_t stripped = chunks * (chunk.size() / 5) * 3;
  REQUIRE(all->size() == stripped + 1 + 5);
  CHECK(all->find_first_of(" \t") == std::string::npos);
  CHECK(all->substr(stripped) == std::string("\0next\0", 6));
}

TEST_CASE("security: 64 KiB of NULs before AUTH get at most 3 replies and a close") {
  SecretServer s({"--workers", "1"});
  Client c = Client::connect(s.server->port());
  c.send(std::string(65536, '\0'));  // may fail part way: the server closes early
  auto all = c.read_to_eof(5s);
  REQUIRE(all);
  size_t replies = count_of(*all, "ERR authentication required");
  CHECK(replies >= 1);
  CHECK(replies <= 3);
  CHECK(all->size() == replies * std::string("ERR authentication required").size() + replies);
}

TEST_CASE("security: past auth_max_failures an address is refused, in every worker, and others are not") {
  SecretServer s({"--workers", "2", "--auth_max_failures", "2"});
  uint16_t port = s.server->port();
  // Three failures over two connections (each answered after about a second).
  Client first = Client::connect(port);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(first.send("AUTH wrong\n"));
    REQUIRE(first.reply(5s) == "ERR authentication failed");
  }
  first.close();
  Client second = Client::connect(port);
  REQUIRE(second.send("AUTH wrong\n"));
  CHECK(second.reply(5s) == "ERR authentication failed");
  CHECK(second.closed_within(3s));  // past the limit: not even its own three tries
  REQUIRE(s.server->wait_log("refusing 127.0.0.1 for 60 s"));

  // Whichever worker takes them, new connections from that address are turned away.
  for (int i = 0; i < 3; ++i) {
    Client refused = Client::connect(port);
    refused.send("AUTH " + secret + "\n");  // the right secret changes nothing now
    auto answer = refused.read_to_eof(3s);
    REQUIRE(answer);
    CHECK(*answer == std::string("ERR too many failed authentications") + '\0');
  }
  CHECK(s.server->log_count("refusing 127.0.0.1") == 1);

  auto other = Client::try_connect(port, "127.0.0.1", "127.0.0.2");
  REQUIRE(other);
  REQUIRE(other->send("AUTH " + secret + "\n"));
  CHECK(other->reply() == "OK");
  REQUIRE(other->send("a b\n"));
  CHECK(other->reply() == "ab");
}
