// allow / deny lists and max_per_ip, with clients from several loopback
// addresses.
#include <catch2/catch.hpp>

#include "../support/client.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

namespace {

Client from(const Server& server, const std::string& source) {
  auto c = Client::try_connect(server.port(), "127.0.0.1", source);
  REQUIRE(c);
  return std::move(*c);
}

bool served(Client& c) { return c.send("hello there\n") && c.reply(3s) == "hellothere"; }

}  // namespace

TEST_CASE("allow admits only its ranges and refused clients are closed silently") {
  Server server({"--workers", "2", "--allow", "127.0.0.2/32", "--allow", "10.0.0.0/8"});
  Client ok = from(server, "127.0.0.2");
  CHECK(served(ok));
  Client refused = from(server, "127.0.0.1");
  refused.send("hello\n");
  CHECK(refused.read_to_eof(3s) == "");
  CHECK(server.wait_log("refused 127.0.0.1:"));
  CHECK_THAT(server.log(), Catch::Contains("not allowed by allow/deny"));
}

TEST_CASE("deny wins over allow") {
  Server server({"--workers", "2", "--allow", "127.0.0.0/8", "--deny", "127.0.0.3"});
  Client ok = from(server, "127.0.0.1");
  CHECK(served(ok));
  Client denied = from(server, "127.0.0.3");
  CHECK(denied.read_to_eof(3s) == "");
  // The worker counts the refusal just after closing the connection.
  test::RunResult status;
  CHECK(test::wait_until([&] {
    status = test::run_wsserver(server.same_files({"-s", "status"}));
    return status.out.find("rejected 1") != std::string::npos;
  }));
  CHECK_THAT(status.out, Catch::Contains("rejected 1"));
}

TEST_CASE("max_per_ip turns away the connection over the limit") {
  Server server({"--workers", "5", "--max_per_ip", "2"});
  Client a = from(server, "127.0.0.1"), b = from(server, "127.0.0.1");
  REQUIRE(served(a));
  REQUIRE(served(b));
  Client third = from(server, "127.0.0.1");
  CHECK(third.reply() == "ERR too many connections from your address");
  CHECK(third.closed_within(2s));
  Client other = from(server, "127.0.0.4");  // another address has its own count
  CHECK(served(other));
  a.close();
  CHECK(test::wait_until([&] {
    Client again = from(server, "127.0.0.1");
    return served(again);
  }, 5s));
}
