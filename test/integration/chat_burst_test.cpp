// chat: chat_backlog bounds what waits for a client, not what it sends.
#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/status_json.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

// Found while soaking: a client that sent more than chat_backlog in one burst
// was cut as too slow by its own messages, which it is never sent.
TEST_CASE("chat: a client that sends more than chat_backlog at once is not cut as too slow") {
  Server server({"--service", "chat", "--reply_terminator", "lf", "--workers", "2", "--chat_backlog", "4096"});
  // The listener's own receive buffer takes the whole burst, so it can never
  // look slow itself (that is another test); only the talker is at stake.
  Client listener = Client::connect_with_receive_buffer(server.port(), 1 << 20);
  Client talker = Client::connect(server.port());
  std::string control = test::control_socket_of(server.pid_file());
  REQUIRE(test::wait_until([&] {
    auto s = test::query_status(control);
    return s && std::count_if(s->workers.begin(), s->workers.end(), [](const auto& w) { return w.state == "busy"; }) == 2;
  }));
  // Joined: a busy worker may not have joined the ring yet, and a client
  // hears only what is published after it joined; so hello until one gets
  // through, then take the extra copies.
  REQUIRE(test::wait_until([&] { return talker.send("hello\n") && listener.reply(200ms, '\n') == "hello"; }, 10s));
  while (listener.reply(300ms, '\n') == "hello") {
  }
  std::string burst;
  for (int i = 0; i < 60; ++i) burst += std::to_string(i) + " " + std::string(1000, 'x') + "\n";
  REQUIRE(talker.send(burst));
  for (int i = 0; i < 60; ++i) REQUIRE(listener.reply(5s, '\n') == std::to_string(i) + " " + std::string(1000, 'x'));
  CHECK(talker.quiet_for(300ms));  // neither ERR too slow nor a close
  REQUIRE(listener.send("still there?\n"));
  CHECK(talker.reply(5s, '\n') == "still there?");
  CHECK(server.log_count("read too slowly") == 0);
}
