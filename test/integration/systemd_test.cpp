// systemd's side of wsserver, played by the test: a NOTIFY_SOCKET the test
// binds (a path and an abstract name) hears the master's notifications in
// order, and listening sockets the test binds are passed as systemd passes
// them (LISTEN_FDS, LISTEN_PID) to the binary it execs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "wsserver/control.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/sd_notify.hpp"

#include "../support/client.hpp"
#include "../support/notify_sink.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::NotifySink;
using test::Server;

namespace {

int64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

int64_t field_number(const std::string& message, const std::string& key) {
  size_t at = message.find(key + "=");
  return at == std::string::npos ? -1 : std::atoll(message.c_str() + at + key.size() + 1);
}

// READY; STATUS when a client makes a worker busy; RELOADING with
// MONOTONIC_USEC then READY for a valid reload and for a refused one;
// STOPPING at a stop: in that order.
void check_lifecycle(Server& server, NotifySink& sink) {
  REQUIRE(sink.wait_for("READY=1"));
  CHECK(sink.find("READY=1") == 0);
  CHECK_THAT(sink.seen[0], Catch::Contains("STATUS=serving: 2 workers"));
  Client client = Client::connect(server.port());
  REQUIRE(client.send("a b\n"));
  REQUIRE(client.reply() == "ab");
  CHECK(sink.wait_for("1 busy"));
  client.close();

  int64_t before = monotonic_usec();
  server.signal(SIGHUP);
  REQUIRE(sink.wait_for("RELOADING=1"));
  int reloading = sink.find("RELOADING=1");
  int64_t stamp = field_number(sink.seen[reloading], "MONOTONIC_USEC");
  CHECK(stamp >= before);
  CHECK(stamp <= monotonic_usec());
  REQUIRE(sink.wait_for("READY=1"));
  CHECK(sink.find("READY=1", reloading) > reloading);

  // A config made invalid: refused, and still READY=1 after it.
  std::string conf = server.dir().file("wsserver.conf");
  std::string good = test::read_file(conf);
  server.dir().write("wsserver.conf", good + "service = nonsense\n");
  server.signal(SIGHUP);
  REQUIRE(server.wait_log("reload failed"));
  REQUIRE(sink.wait_for("READY=1"));
  int second = sink.find("RELOADING=1", reloading + 1);
  CHECK(second > reloading);
  CHECK(sink.find("READY=1", second) > second);

  server.signal(SIGTERM);
  REQUIRE(sink.wait_for("STOPPING=1"));
  CHECK(server.wait_exit() == 0);
  CHECK(sink.find("STOPPING=1") > sink.find("READY=1", second));
  CHECK(sink.find("READY=1", sink.find("STOPPING=1")) == -1);
}

}  // namespace

TEST_CASE("NOTIFY_SOCKET as a path hears READY, STATUS, RELOADING and READY, STOPPING in order") {
  test::TempDir dir;
  NotifySink sink(dir.file("notify"));
  Server server({"--workers", "2"}, "", {"NOTIFY_SOCKET=" + sink.address()});
  check_lifecycle(server, sink);
}

TEST_CASE("NOTIFY_SOCKET as an abstract name hears the same") {
  NotifySink sink("@wsserver-test-" + std::to_string(getpid()) + "-" + std::to_string(monotonic_usec()));
  Server server({"--workers", "2"}, "", {"NOTIFY_SOCKET=" + sink.address()});
  check_lifecycle(server, sink);
}

// [no-valgrind]: counts pings per unit of time.
TEST_CASE("WATCHDOG=1 comes every half WATCHDOG_USEC, and not when WATCHDOG_PID names another process", "[no-valgrind]") {
  test::TempDir dir;
  NotifySink sink(dir.file("notify"));
  Server server({"--workers", "1"}, "", {"NOTIFY_SOCKET=" + sink.address(), "WATCHDOG_USEC=200000"});
  REQUIRE(sink.wait_for("READY=1"));
  auto start = test::Clock::now();
  int pings = 0;
  while (test::Clock::now() - start < 1500ms)
    if (auto m = sink.next(100ms); m && *m == "WATCHDOG=1") ++pings;
  // Every 100 ms: 15 in 1.5 s, give or take a loaded machine's lateness.
  CHECK(pings >= 8);
  CHECK(pings <= 17);

  NotifySink quiet(dir.file("quiet"));
  Server other({"--workers", "1"}, "", {"NOTIFY_SOCKET=" + quiet.address(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  REQUIRE(quiet.wait_for("READY=1"));
  CHECK_FALSE(quiet.wait_for("WATCHDOG=1", 700ms));
}

namespace {

ws::Fd tcp_listener(uint16_t* port) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) == 0);
  REQUIRE(listen(fd.get(), 16) == 0);
  socklen_t len = sizeof in;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&in), &len);
  *port = ntohs(in.sin_port);
  return fd;
}

ws::Fd unix_listener(const std::string& path) {
  ws::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
  REQUIRE(listen(fd.get(), 16) == 0);
  return fd;
}

// wsserver run as systemd runs a socket-activated service: `sockets` become
// descriptors 3, 4 ..., LISTEN_FDS counts them and LISTEN_PID is the pid
// exec'd. Its own process group, killed whole at the end.
class Activated {
 public:
  Activated(const std::vector<int>& sockets, std::vector<std::string> args, const std::string& log) {
    std::vector<std::string> argv{test::wsserver_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) exec(sockets, argv, log);
  }
  ~Activated() {
    kill(-pid_, SIGKILL);
    if (!status_) waitpid(pid_, nullptr, 0);
    // Its workers, children of the test when it is their subreaper, are reaped too.
    test::wait_until([this] {
      test::reap_children();
      return kill(-pid_, 0) != 0;
    }, 2s);
  }
  int pid() const { return pid_; }
  // The exit status, or nullopt if it still runs after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s) {
    int st = 0;
    if (!status_ && test::wait_until([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, timeout))
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  [[noreturn]] static void exec(const std::vector<int>& sockets, std::vector<std::string>& argv, const std::string& log) {
    setpgid(0, 0);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    dup2(out, 1);
    dup2(out, 2);
    int n = static_cast<int>(sockets.size());
    std::vector<int> moved;
    for (int fd : sockets) moved.push_back(fcntl(fd, F_DUPFD, 3 + n + 10));
    for (int i = 0; i < n; ++i) dup2(moved[i], 3 + i);
    close_range(3 + n, ~0U, 0);
    setenv("LISTEN_FDS", std::to_string(n).c_str(), 1);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }

  int pid_;
  std::optional<int> status_;
};

// The socket inodes a process holds, from /proc/PID/fd.
std::vector<std::string> socket_links(int pid) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().rfind("socket:", 0) == 0) out.push_back(target.string());
  }
  return out;
}

std::string socket_link(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return "socket:[" + std::to_string(st.st_ino) + "]";
}

}  // namespace

// [no-valgrind]: LISTEN_PID names the pid exec'd, which valgrind's wrapper is not.
TEST_CASE("inherited tcp and unix listening sockets are served without binding, and kept by a reload", "[no-valgrind]") {
  test::TempDir dir;
  uint16_t port = 0;
  ws::Fd tcp = tcp_listener(&port);
  std::string path = dir.file("s.sock");
  ws::Fd unix_socket = unix_listener(path);
  std::string control = dir.file("w.sock");
  Activated server({tcp.get(), unix_socket.get()},
                   {"--listen", "127.0.0.1:" + std::to_string(port), "--listen", "unix:" + path, "--pid_file",
                    dir.file("w.pid"), "--workers", "2", "--min_spare", "0"},
                   dir.file("log"));
  std::string error;
  REQUIRE(test::wait_until([&] { return ws::query_control(control, "status", 1000, &error).has_value(); }, 10s));
  Client a = Client::connect(port);
  REQUIRE(a.send("a b\n"));
  CHECK(a.reply() == "ab");
  Client b = Client::connect_unix(path);
  REQUIRE(b.send("c d\n"));
  CHECK(b.reply() == "cd");
  // The very sockets the test bound: had wsserver bound its own, the port
  // (held here without SO_REUSEPORT) would have refused it.
  auto links = socket_links(server.pid());
  CHECK(std::count(links.begin(), links.end(), socket_link(tcp.get())) == 1);
  CHECK(std::count(links.begin(), links.end(), socket_link(unix_socket.get())) == 1);
  CHECK_THAT(test::read_file(dir.file("log")), Catch::Contains("listening on 127.0.0.1:" + std::to_string(port)));

  // A reload keeps them.
  kill(server.pid(), SIGHUP);
  REQUIRE(test::wait_until([&] { return test::read_file(dir.file("log")).find("reloaded:") != std::string::npos; }));
  Client c = Client::connect(port);
  REQUIRE(c.send("e f\n"));
  CHECK(c.reply() == "ef");
  Client d = Client::connect_unix(path);
  REQUIRE(d.send("g h\n"));
  CHECK(d.reply() == "gh");
  links = socket_links(server.pid());
  CHECK(std::count(links.begin(), links.end(), socket_link(tcp.get())) == 1);
  CHECK(std::count(links.begin(), links.end(), socket_link(unix_socket.get())) == 1);
}

TEST_CASE("an inherited socket that matches no listen entry is a configuration error (exit 78)", "[no-valgrind]") {
  test::TempDir dir;
  uint16_t port = 0;
  ws::Fd tcp = tcp_listener(&port);
  Activated server({tcp.get()}, {"--listen", "unix:" + dir.file("s.sock"), "--pid_file", dir.file("w.pid")},
                   dir.file("log"));
  CHECK(server.wait_exit() == 78);
  CHECK_THAT(test::read_file(dir.file("log")),
             Catch::Contains("inherited socket 3 (127.0.0.1:" + std::to_string(port) + ") matches no listen entry"));
  CHECK_FALSE(std::filesystem::exists(dir.file("w.pid")));
}

TEST_CASE("a graceful stop leaves the manager's sockets listening for the next start", "[no-valgrind]") {
  test::TempDir dir;
  uint16_t port = 0;
  ws::Fd tcp = tcp_listener(&port);
  std::string path = dir.file("s.sock");
  ws::Fd unix_socket = unix_listener(path);
  Activated server({tcp.get(), unix_socket.get()},
                   {"--listen", "127.0.0.1:" + std::to_string(port), "--listen", "unix:" + path, "--pid_file",
                    dir.file("w.pid"), "--workers", "1", "--min_spare", "0"},
                   dir.file("log"));
  std::string error;
  REQUIRE(test::wait_until([&] { return ws::query_control(dir.file("w.sock"), "status", 1000, &error).has_value(); }, 10s));
  kill(server.pid(), SIGTERM);
  REQUIRE(server.wait_exit() == 0);
  // Neither shut down nor filtered nor unlinked: a client connects and
  // waits in the backlog, as systemd would then start the service again.
  auto waiting = Client::try_connect(port);
  CHECK(waiting.has_value());
  CHECK(std::filesystem::exists(path));
  CHECK_NOTHROW(Client::connect_unix(path));
}
