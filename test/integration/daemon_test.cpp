// -d: a classic daemon that reports readiness, and its pid file.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"
#include "wsserver/pidfile.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::run_wsserver;

namespace {

std::string readlink_of(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

uint16_t port_from_log(const std::string& log) {
  size_t at = log.find("listening on 127.0.0.1:");
  return at == std::string::npos ? 0 : static_cast<uint16_t>(std::atoi(log.c_str() + at + 23));
}

}  // namespace

// [no-valgrind]: the master outlives its pid file by valgrind's exit report.
TEST_CASE("daemon mode detaches, holds its pid file and serves at once", "[no-valgrind]") {
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid"), log = dir.file("w.log");
  test::DaemonGuard guard{pid_file};
  auto r = run_wsserver({"-d", "-c", "/dev/null", "--listen", "127.0.0.1:0", "--workers", "2", "--pid_file", pid_file,
                         "--log_file", log});
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  // Ready means listening and holding the pid file: no waiting needed.
  int pid = ws::read_pid(pid_file);
  REQUIRE(pid > 0);
  CHECK(ws::running_master(pid_file) == pid);
  CHECK(getsid(pid) != getsid(0));
  CHECK(getsid(pid) != pid);  // not a session leader: it can never regain a terminal
  CHECK(readlink_of("/proc/" + std::to_string(pid) + "/cwd") == "/");
  for (int fd = 0; fd < 3; ++fd)
    CHECK(readlink_of("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd)) == "/dev/null");
  Client c = Client::connect(port_from_log(test::read_file(log)));
  REQUIRE(c.send("d a e m o n\n"));
  CHECK(c.reply() == "daemon");
  c.close();
  auto stop = run_wsserver({"-c", "/dev/null", "--pid_file", pid_file, "-s", "quit"});
  CHECK(stop.status == 0);
  CHECK_FALSE(test::alive(pid));
  CHECK_FALSE(std::filesystem::exists(pid_file));
}

TEST_CASE("daemon start-up failures reach the launcher with their exit code") {
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid");
  test::DaemonGuard guard{pid_file};
  // The control socket is created after detaching: its error must still be seen.
  auto r = run_wsserver({"-d", "-c", "/dev/null", "--listen", "127.0.0.1:0", "--pid_file", pid_file,
                         "--control_socket", dir.file("missing/w.sock"), "--log_file", dir.file("w.log")});
  CHECK(r.status == 73);
  CHECK_THAT(r.err, Catch::Contains("cannot create control socket " + dir.file("missing/w.sock")));
  CHECK(test::wait_until([&] { return ws::running_master(pid_file) == 0; }, 2s));
}

TEST_CASE("a second instance exits 69 naming the running pid") {
  test::Server server({"--workers", "1"});
  auto r = run_wsserver(server.same_files({"--listen", "127.0.0.1:0"}));
  CHECK(r.status == 69);
  CHECK_THAT(r.err, Catch::Contains("another wsserver is running (pid " + std::to_string(server.pid())));
  CHECK(ws::read_pid(server.pid_file()) == server.pid());
}

TEST_CASE("a stale or malformed pid file is taken over") {
  for (std::string content : {"999999\n", "garbage", ""}) {
    test::TempDir dir;
    std::string pid_file = dir.write("w.pid", content);
    test::Server server({"--workers", "1", "--pid_file", pid_file});
    CHECK(ws::read_pid(pid_file) == server.pid());
    if (content == "999999\n") CHECK(server.log_count("taking over a stale pid file") == 1);
    server.signal(SIGTERM);
    CHECK(server.wait_exit() == 0);
    CHECK_FALSE(std::filesystem::exists(pid_file));
  }
}

TEST_CASE("a pid file that no longer holds our pid is left alone at exit") {
  test::Server server({"--workers", "1"});
  // Another process replaced the file (say a successor): it is not ours to remove.
  std::string other = server.dir().write("other.pid", "12345\n");
  std::filesystem::rename(other, server.pid_file());
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK(ws::read_pid(server.pid_file()) == 12345);
}

TEST_CASE("a failed bind leaves no pid file behind") {
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid");
  auto r = run_wsserver({"-c", "/dev/null", "--listen", "256.1.1.1:1", "--pid_file", pid_file});
  CHECK(r.status == 71);
  CHECK_FALSE(std::filesystem::exists(pid_file));
}

TEST_CASE("descriptors left open by whatever started wsserver reach no worker") {
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid"), marker = dir.write("marker", "x");
  test::DaemonGuard guard{pid_file};
  // A launcher that leaves descriptor 7 open without close-on-exec.
  std::string command = "exec 7<" + marker + "; exec " + test::wsserver_binary() +
                        " -d -c /dev/null --listen 127.0.0.1:0 --workers 2 --min_spare 0 --pid_file " + pid_file +
                        " --log_file " + dir.file("w.log");
  REQUIRE(std::system(("sh -c '" + command + "'").c_str()) == 0);
  int master = ws::read_pid(pid_file);
  REQUIRE(master > 0);
  REQUIRE(test::wait_until([&] { return test::children_of(master).size() == 2; }));
  auto holds_marker = [&](int pid) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec))
      if (readlink_of(entry.path()) == marker) return true;
    return false;
  };
  CHECK_FALSE(holds_marker(master));
  for (int w : test::children_of(master)) CHECK_FALSE(holds_marker(w));
}
