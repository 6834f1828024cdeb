// proxy_from (SPEC 9): its default, its parsing like allow/deny, and whose
// PROXY headers it lets a worker believe.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <catch2/catch.hpp>

#include "../support/tempdir.hpp"
#include "wsserver/access.hpp"
#include "wsserver/cli.hpp"
#include "wsserver/exit_codes.hpp"

namespace {

ws::CliOutcome parse_file(const test::TempDir& dir, const std::string& text, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"-c", dir.write("w.conf", text)};
  args.insert(args.end(), extra.begin(), extra.end());
  return ws::parse_command_line(args, "/work", false);
}

sockaddr_storage ip(const char* text) {
  sockaddr_storage ss{};
  if (std::string(text).find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &in6->sin6_addr);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, text, &in->sin_addr);
  }
  return ss;
}

bool trusted(const ws::Config& c, const char* peer) { return ws::parse_access_rules(c).trusts_proxy(ip(peer)); }

}  // namespace

TEST_CASE("proxy_from defaults to loopback only", "[proxy]") {
  test::TempDir dir;
  auto o = parse_file(dir, "");
  REQUIRE(o.proceed);
  const ws::Config& c = o.options.config;
  CHECK(c.proxy_from == std::vector<std::string>{"127.0.0.0/8", "::1/128"});
  CHECK(trusted(c, "127.0.0.1"));
  CHECK(trusted(c, "127.45.6.7"));
  CHECK(trusted(c, "::1"));
  CHECK(trusted(c, "::ffff:127.0.0.1"));
  CHECK_FALSE(trusted(c, "10.0.0.1"));
  CHECK_FALSE(trusted(c, "::2"));
  CHECK_FALSE(trusted(c, "192.168.1.1"));
}

TEST_CASE("proxy_from: a list in the file, replaced by the command line", "[proxy]") {
  test::TempDir dir;
  auto o = parse_file(dir, "proxy_from = [\"10.0.0.5/32\", \"2001:db8::/32\"]\n");
  REQUIRE(o.proceed);
  CHECK(trusted(o.options.config, "10.0.0.5"));
  CHECK(trusted(o.options.config, "2001:db8::77"));
  CHECK_FALSE(trusted(o.options.config, "10.0.0.6"));
  CHECK_FALSE(trusted(o.options.config, "127.0.0.1"));
  auto cli = parse_file(dir, "proxy_from = 10.0.0.5\n", {"--proxy_from", "192.0.2.0/24"});
  REQUIRE(cli.proceed);
  CHECK(cli.options.config.proxy_from == std::vector<std::string>{"192.0.2.0/24"});
}

TEST_CASE("proxy_from: an empty list believes no IP peer, a unix one still", "[proxy]") {
  test::TempDir dir;
  auto o = parse_file(dir, "proxy_from = []\n");
  REQUIRE(o.proceed);
  CHECK(o.options.config.proxy_from.empty());
  CHECK_FALSE(trusted(o.options.config, "127.0.0.1"));
  sockaddr_storage un{};
  un.ss_family = AF_UNIX;
  CHECK(ws::parse_access_rules(o.options.config).trusts_proxy(un));
}

TEST_CASE("proxy_from: a bad range names the file, line and key", "[proxy]") {
  test::TempDir dir;
  auto o = parse_file(dir, "workers = 2\nproxy_from = [\"10.0.0.0/33\"]\n");
  CHECK(o.exit_code == ws::exit_code::config);
  CHECK_THAT(o.message, Catch::Contains("w.conf:2: proxy_from: bad address range"));
  auto word = parse_file(dir, "proxy_from = haproxy.example\n");
  CHECK(word.exit_code == ws::exit_code::config);
  CHECK_THAT(word.message, Catch::Contains("proxy_from"));
}

TEST_CASE("a relative proxy:unix: path is made absolute like a unix: one", "[proxy]") {
  test::TempDir dir;
  auto o = parse_file(dir, "listen = [\"proxy:unix:run/a.sock\", \"unix:b.sock\", \"proxy:unix:/abs/c.sock\", \"proxy:9000\"]\n");
  REQUIRE(o.proceed);
  CHECK(o.options.config.listen ==
        std::vector<std::string>{"proxy:unix:/work/run/a.sock", "unix:/work/b.sock", "proxy:unix:/abs/c.sock", "proxy:9000"});
}
