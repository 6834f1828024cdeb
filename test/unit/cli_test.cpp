// The command line and config file: good files, and bad ones named by file,
// line and key with the SPEC's exit codes.
#include <catch2/catch.hpp>

#include "../support/tempdir.hpp"
#include "wsserver/cli.hpp"
#include "wsserver/exit_codes.hpp"

namespace {

ws::CliOutcome parse(std::vector<std::string> args) { return ws::parse_command_line(args, "/work", false); }

ws::CliOutcome parse_file(const test::TempDir& dir, const std::string& text, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"-c", dir.write("w.conf", text)};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse(args);
}

}  // namespace

TEST_CASE("no config file gives the SPEC defaults") {
  auto o = parse({"-c", "/dev/null"});
  REQUIRE(o.proceed);
  const ws::Config& c = o.options.config;
  CHECK(c.listen == std::vector<std::string>{"9000"});
  CHECK(c.backlog == 511);
  CHECK(c.service == ws::ServiceKind::strip);
  CHECK(c.reply_terminator == ws::Terminator::nul);
  CHECK(c.workers == 5);
  CHECK(c.min_spare == 5);
  CHECK(c.max_spare == 10);
  CHECK(c.max_workers == 256);
  CHECK(c.overflow == ws::Overflow::queue);
  CHECK(c.max_requests == 0);
  CHECK(c.idle_timeout == 60);
  CHECK(c.graceful_timeout == 30);
  CHECK(c.max_message == 65536);
  CHECK(c.chat_backlog == 1048576);
  CHECK(c.auth_file.empty());
  CHECK(c.allow.empty());
  CHECK(c.deny.empty());
  CHECK(c.max_per_ip == 0);
  CHECK(c.pid_file == "/work/wsserver.pid");
  CHECK(c.control_socket == "/work/wsserver.sock");
  CHECK(c.log_level == ws::log::Level::info);
}

TEST_CASE("as root the pid file defaults to /run") {
  auto o = ws::parse_command_line({"-c", "/dev/null"}, "/", true);
  REQUIRE(o.proceed);
  CHECK(o.options.config.pid_file == "/run/wsserver.pid");
  CHECK(o.options.config.control_socket == "/run/wsserver.sock");
}

TEST_CASE("a full config file is read") {
  test::TempDir dir;
  auto o = parse_file(dir, R"(# comment
listen = ["127.0.0.1:9001", "[::1]:9002", "unix:/tmp/w.sock", "udp:127.0.0.1:9003"]
backlog = 128
service = "echo"
reply_terminator = crlf
workers = 3
min_spare = 1
max_spare = 4
max_workers = 8
overflow = reject
max_requests = 100
idle_timeout = 5   # seconds
graceful_timeout = 7
max_message = 1024
chat_backlog = 4096
allow = ["10.0.0.0/8", "::1"]
deny = ["10.1.0.0/16"]
max_per_ip = 2
user = "nobody"
group = "nogroup"
pid_file = "run/w.pid"
log_file = syslog
log_level = debug
access_log = /var/log/w.access
)");
  REQUIRE(o.message == "");
  REQUIRE(o.proceed);
  const ws::Config& c = o.options.config;
  CHECK(c.listen.size() == 4);
  CHECK(c.listen[2] == "unix:/tmp/w.sock");
  CHECK(c.backlog == 128);
  CHECK(c.service == ws::ServiceKind::echo);
  CHECK(c.reply_terminator == ws::Terminator::crlf);
  CHECK(c.workers == 3);
  CHECK(c.overflow == ws::Overflow::reject);
  CHECK(c.max_requests == 100);
  CHECK(c.idle_timeout == 5);
  CHECK(c.allow == std::vector<std::string>{"10.0.0.0/8", "::1"});
  CHECK(c.user == "nobody");
  CHECK(c.pid_file == "/work/run/w.pid");
  CHECK(c.control_socket == "/work/run/w.sock");
  CHECK(c.log_file == "syslog");
  CHECK(c.log_level == ws::log::Level::debug);
  CHECK(c.access_log == "/var/log/w.access");
  CHECK(o.options.config_path == dir.file("w.conf"));
}

TEST_CASE("command-line options override the file") {
  test::TempDir dir;
  auto o = parse_file(dir, "workers = 3\nlisten = 9001\n", {"--workers", "4", "--listen", "9005", "--listen", "9006"});
  REQUIRE(o.proceed);
  CHECK(o.options.config.workers == 4);
  CHECK(o.options.config.listen == std::vector<std::string>{"9005", "9006"});
}

TEST_CASE("quoted values and lists in their accepted forms") {
  test::TempDir dir;
  auto o = parse_file(dir, "listen = [ \"9001\" , '9002', 9003 ]  # three\nuser = 'nobody'\ngroup = nogroup\n"
                           "allow = [\"10.0.0.0/8\"]\n");
  REQUIRE(o.message == "");
  CHECK(o.options.config.listen == std::vector<std::string>{"9001", "9002", "9003"});
  CHECK(o.options.config.user == "nobody");
  CHECK(o.options.config.group == "nogroup");
}

TEST_CASE("an empty list is allowed where it makes sense") {
  test::TempDir dir;
  auto o = parse_file(dir, "allow = []\n");
  REQUIRE(o.proceed);
  CHECK(o.options.config.allow.empty());
  auto bad = parse_file(dir, "listen = []\n");
  CHECK(bad.exit_code == ws::exit_code::config);
  CHECK_THAT(bad.message, Catch::Contains("w.conf:1: listen:"));
}

TEST_CASE("ws_origins and ws_page are read, the page's path made absolute") {
  test::TempDir dir;
  auto o = parse_file(dir, "ws_origins = [\"https://chat.example.org\", \"http://localhost:8080\"]\nws_page = my.html\n");
  REQUIRE(o.proceed);
  CHECK(o.options.config.ws_origins == std::vector<std::string>{"https://chat.example.org", "http://localhost:8080"});
  CHECK(o.options.config.ws_page == "/work/my.html");
  auto none = parse_file(dir, "");
  CHECK(none.options.config.ws_origins.empty());
  CHECK(none.options.config.ws_page.empty());
}

TEST_CASE("bad config files name file, line and key and exit 78") {
  test::TempDir dir;
  struct Case {
    std::string text, where;
  };
  std::vector<Case> cases = {
      {"workers = 2\nbogus = 1\n", "w.conf:2: bogus: unknown key"},
      {"\n\nworkers = 0\n", "w.conf:3: workers: Value 0 not in range"},
      {"workers = many\n", "w.conf:1: workers:"},
      {"service = ftp\n", "w.conf:1: service: ftp not in {strip,echo,chat}"},
      {"reply_terminator = cr\n", "w.conf:1: reply_terminator:"},
      {"overflow = drop\n", "w.conf:1: overflow:"},
      {"log_level = loud\n", "w.conf:1: log_level:"},
      {"idle_timeout = -1\n", "w.conf:1: idle_timeout:"},
      {"max_message = 0\n", "w.conf:1: max_message:"},
      {"listen = \"localhost\"\n", "w.conf:1: listen: bad listen address"},
      {"listen = \"::1:80\"\n", "w.conf:1: listen: bad listen address \"::1:80\": an IPv6 address needs brackets"},
      {"listen = \"1.2.3.4:70000\"\n", "w.conf:1: listen:"},
      {"allow = [\"10.0.0.0/33\"]\n", "w.conf:1: allow: bad address range"},
      {"deny = [\"nonsense\"]\n", "w.conf:1: deny:"},
      {"workers = 20\nmax_workers = 10\n", "w.conf:1: workers: workers (20) exceeds max_workers (10)"},
      {"min_spare = 9\nmax_spare = 3\n", "w.conf:1: min_spare:"},
      {"workers 5\n", "w.conf:1: expected key = value"},
      {"[main]\nworkers = 5\n", "w.conf:1: sections are not supported"},
      {"workers = 2\nworkers = 3\n", "w.conf:2: workers: given twice (first on line 1)"},
      {"daemon = true\n", "w.conf:1: daemon: unknown key"},
      {"a.b = 1\n", "w.conf:1: a.b: unknown key"},
      {"listen = \"udp:127.0.0.1:9000\"\nauth_file = /etc/secret\n", "w.conf:2: auth_file:"},
      {"pid_file = \"abc\n", "w.conf:1: pid_file: unclosed or doubled quotes"},
      {"listen = [\"9000\", \n", "w.conf:1: listen: a list must end with ]"},
      {"listen = [\"9000\" \"9001\"]\n", "w.conf:1: listen: a list holds quoted strings"},
      {"listen = [\"9000\",]\n", "w.conf:1: listen: a list must not end with a comma"},
      {"user = a\"b\n", "w.conf:1: user: quotes or brackets inside a bare value"},
      {"ws_origins = [\"example.org\"]\n", "w.conf:1: ws_origins: \"example.org\" is not an origin"},
      {"ws_origins = [\"https://example.org/\"]\n", "w.conf:1: ws_origins:"},
      {"ws_origins = [\"https://\"]\n", "w.conf:1: ws_origins:"},
  };
  for (const auto& c : cases) {
    auto o = parse_file(dir, c.text);
    INFO(c.text);
    CHECK_FALSE(o.proceed);
    CHECK(o.exit_code == ws::exit_code::config);
    CHECK_THAT(o.message, Catch::Contains(c.where));
  }
}

// Found by make fuzz (config): the error blamed --workers on the command line
// (exit 64), though only the file had set anything.
TEST_CASE("a limit set in the file below another key's default is the file's error") {
  test::TempDir dir;
  struct Case {
    std::string text, where;
  };
  std::vector<Case> cases = {
      {"max_workers = 2\n", "w.conf:1: max_workers: workers (5) exceeds max_workers (2)"},
      {"\nmax_spare = 3\n", "w.conf:2: max_spare: min_spare (5) exceeds max_spare (3)"},
  };
  for (const auto& c : cases) {
    auto o = parse_file(dir, c.text);
    INFO(c.text);
    CHECK(o.exit_code == ws::exit_code::config);
    CHECK_THAT(o.message, Catch::Contains(c.where));
  }
  auto both = parse_file(dir, "max_workers = 2\n", {"--workers", "3"});
  CHECK(both.exit_code == ws::exit_code::usage);
  CHECK_THAT(both.message, Catch::Contains("--workers: workers (3) exceeds max_workers (2)"));
  auto flag = parse_file(dir, "workers = 1\n", {"--max_spare", "1"});
  CHECK(flag.exit_code == ws::exit_code::usage);
  CHECK_THAT(flag.message, Catch::Contains("--max_spare: min_spare (5) exceeds max_spare (1)"));
}

// Found by make fuzz (config): pid_file = "run/s\0..." was accepted, and
// the server would have written its pid file at run/s.
TEST_CASE("a NUL byte in a config line is an error naming file and line") {
  test::TempDir dir;
  using namespace std::string_literals;
  for (const std::string& text : {"\npid_file = \"run/s\0x\"\n"s, "\nuser = nobody\0\n"s, "\nlisten = [\"9000\", \"\0\"]\n"s}) {
    auto o = parse_file(dir, text);
    INFO(text);
    CHECK(o.exit_code == ws::exit_code::config);
    CHECK_THAT(o.message, Catch::Contains("w.conf:2: a NUL byte in the line"));
  }
  CHECK(parse_file(dir, "# a comment may hold anything: \0\nworkers = 2\n"s).proceed);
}

TEST_CASE("bad command lines exit 64 naming the option") {
  auto unknown = parse({"-c", "/dev/null", "--bogus"});
  CHECK(unknown.exit_code == ws::exit_code::usage);
  CHECK_THAT(unknown.message, Catch::Contains("--bogus"));
  auto value = parse({"-c", "/dev/null", "--workers", "0"});
  CHECK(value.exit_code == ws::exit_code::usage);
  CHECK_THAT(value.message, Catch::Contains("--workers"));
  auto action = parse({"-c", "/dev/null", "-s", "explode"});
  CHECK(action.exit_code == ws::exit_code::usage);
  auto listen = parse({"-c", "/dev/null", "--listen", "nope:"});
  CHECK(listen.exit_code == ws::exit_code::usage);
  CHECK_THAT(listen.message, Catch::Contains("--listen"));
}

TEST_CASE("a missing config file given with -c is a config error") {
  auto o = parse({"-c", "/nonexistent/w.conf"});
  CHECK(o.exit_code == ws::exit_code::config);
  CHECK_THAT(o.message, Catch::Contains("/nonexistent/w.conf"));
}

TEST_CASE("help and version exit 0 with their text") {
  auto help = parse({"--help"});
  CHECK(help.exit_code == 0);
  CHECK_FALSE(help.proceed);
  CHECK_THAT(help.message, Catch::Contains("--graceful_timeout"));
  auto v = parse({"-V"});
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.message, Catch::Contains("wsserver 0."));
}

TEST_CASE("-c is made absolute in every spelling, and nothing else is touched") {
  using V = std::vector<std::string>;
  CHECK(ws::with_absolute_config({"-c", "w.conf", "--log_file", "x.log"}, "/srv") == V{"-c", "/srv/w.conf", "--log_file", "x.log"});
  CHECK(ws::with_absolute_config({"--config", "etc/w.conf"}, "/srv") == V{"--config", "/srv/etc/w.conf"});
  CHECK(ws::with_absolute_config({"--config=w.conf"}, "/srv") == V{"--config=/srv/w.conf"});
  CHECK(ws::with_absolute_config({"-cw.conf"}, "/srv") == V{"-c/srv/w.conf"});
  CHECK(ws::with_absolute_config({"-dc", "w.conf"}, "/") == V{"-dc", "/w.conf"});
  CHECK(ws::with_absolute_config({"-tcw.conf"}, "/srv") == V{"-tc/srv/w.conf"});
  CHECK(ws::with_absolute_config({"-c", "/etc/w.conf", "-s", "c"}, "/srv") == V{"-c", "/etc/w.conf", "-s", "c"});
  CHECK(ws::with_absolute_config({"-s", "quit"}, "/srv") == V{"-s", "quit"});
}
