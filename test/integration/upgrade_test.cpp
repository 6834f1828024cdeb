// Binary upgrade (wsserver -s upgrade, SIGUSR2): the server runs from a
// copy of build/wsserver in a temporary directory, so that the test can put
// "the rebuilt binary" (another copy, or a broken one) at the same path.
// [no-valgrind]: the upgrade execs the binary at the path it was started
// from, which under valgrind is valgrind itself.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "wsserver/pidfile.hpp"

#include "../support/client.hpp"
#include "../support/notify_sink.hpp"
#include "../support/proc.hpp"
#include "../support/program.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::NotifySink;
using test::run_wsserver;
using test::Server;

namespace {

// The binary the server of a test is started from: test/support starts
// $WSSERVER, switched to it for the start only (the -s clients run the
// binary under test, whatever is at this path).
class InstalledBinary {
 public:
  InstalledBinary() : saved_(test::wsserver_binary()), path_(dir_.file("wsserver")) { install_copy(); }
  const std::string& path() const { return path_; }
  std::unique_ptr<Server> start(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const {
    Switch to(path_);
    return std::make_unique<Server>(args, "", env);
  }
  test::RunResult run(const std::vector<std::string>& args) const {
    Switch to(path_);
    return run_wsserver(args);
  }
  // A new file at the path, as `make install` leaves it: a running binary
  // cannot be written over (ETXTBSY), only replaced.
  void install_copy() {
    std::filesystem::remove(path_);
    std::filesystem::copy_file(std::filesystem::absolute(saved_), path_);
  }
  void install_script(const std::string& text) {
    std::filesystem::remove(path_);
    dir_.write("wsserver", "#!/bin/sh\n" + text + "\n", 0755);
  }
  std::string original() const { return std::filesystem::absolute(saved_).string(); }

 private:
  struct Switch {
    std::string saved = test::wsserver_binary();
    explicit Switch(const std::string& path) { setenv("WSSERVER", path.c_str(), 1); }
    ~Switch() { setenv("WSSERVER", saved.c_str(), 1); }
  };
  test::TempDir dir_;
  std::string saved_;
  std::string path_;
};

bool serves(uint16_t port) {
  auto client = Client::try_connect(port);
  return client && client->send("a b\n") && client->reply() == "ab";
}

bool gone(int pid) { return !test::alive(pid) || test::is_zombie(pid); }

test::ProgramResult wsbench(uint16_t port, const std::vector<std::string>& args) {
  std::vector<std::string> argv{test::wsbench_binary(), "-p", std::to_string(port), "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_program(argv, 60s);
}

void require_clean(const test::ProgramResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 0);
  CHECK(test::json_number(r.out, "errors") == 0);
  CHECK(test::json_number(r.out, "connect_failures") == 0);
  CHECK(test::json_number(r.out, "unanswered") == 0);
  CHECK(test::json_number(r.out, "completed") > 0);
  CHECK(r.out.find("\"ok\":true") != std::string::npos);
}

}  // namespace

TEST_CASE("upgrade under load: the new master serves, the old one is gone, no client refused", "[no-valgrind]") {
  InstalledBinary binary;
  auto started = binary.start({"--workers", "4", "--listen", "127.0.0.1:0", "--listen", "unix:{dir}/u.sock"});
  Server& server = *started;
  int old_pid = server.pid();
  uint16_t port = server.port();
  auto connrate = std::async(std::launch::async, [&] { return wsbench(port, {"connrate", "-c", "2", "-d", "3"}); });
  auto pingpong = std::async(std::launch::async, [&] { return wsbench(port, {"pingpong", "-c", "2", "-d", "3"}); });
  // Under way when the upgrade starts: some connections served.
  REQUIRE(test::wait_until([&] {
    auto status = run_wsserver(server.same_files({"-s", "status"}));
    return status.out.find("totals: connections 0,") == std::string::npos;
  }, 10s));
  binary.install_copy();  // "the rebuilt binary"

  auto r = run_wsserver(server.same_files({"-s", "upgrade"}), 60s);
  INFO(r.out << r.err << server.log());
  REQUIRE(r.status == 0);
  int new_pid = ws::read_pid(server.pid_file());
  CHECK(new_pid != old_pid);
  CHECK(new_pid > 0);
  CHECK_THAT(r.out, Catch::Contains("new master pid " + std::to_string(new_pid)));
  // The old master waits for its clients (pingpong holds its connections), then goes.
  CHECK(server.wait_exit(20s) == 0);
  CHECK(ws::running_master(server.pid_file()) == new_pid);
  CHECK_FALSE(std::filesystem::exists(server.pid_file() + ".oldbin"));
  require_clean(connrate.get());
  require_clean(pingpong.get());
  CHECK(serves(port));
  Client unix_client = Client::connect_unix(server.dir().file("u.sock"));
  REQUIRE(unix_client.send("c d\n"));
  CHECK(unix_client.reply() == "cd");
  auto status = run_wsserver(server.same_files({"-s", "status"}));
  CHECK_THAT(status.out, Catch::Contains("pid " + std::to_string(new_pid)));
  CHECK(server.log_count("upgrade: new master " + std::to_string(new_pid) + " is ready") == 1);
}

TEST_CASE("a failing upgrade leaves the old master serving with its pid file, and says why", "[no-valgrind]") {
  InstalledBinary binary;
  auto started = binary.start({"--workers", "2"});
  Server& server = *started;
  uint16_t port = server.port();

  SECTION("a binary that exits 1") {
    binary.install_script("exit 1");
    auto r = run_wsserver(server.same_files({"-s", "upgrade"}), 60s);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("upgrade failed: the new master exited with status 1"));
  }
  SECTION("no binary at all") {
    std::filesystem::remove(binary.path());
    // Without a binary there is no -s client either: SIGUSR2 asks the same.
    server.signal(SIGUSR2);
    CHECK(server.wait_log("upgrade failed, serving on: cannot run " + binary.path() + ": No such file or directory"));
  }
  SECTION("a config made invalid meanwhile") {
    binary.install_copy();
    std::string conf = server.dir().file("wsserver.conf");
    server.dir().write("wsserver.conf", test::read_file(conf) + "service = nonsense\n");
    auto r = run_wsserver({"-s", "upgrade", "--pid_file", server.pid_file()}, 60s);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("upgrade failed") && Catch::Contains("service"));
  }
  CHECK(ws::running_master(server.pid_file()) == server.pid());
  CHECK(ws::read_pid(server.pid_file()) == server.pid());
  CHECK_FALSE(std::filesystem::exists(server.pid_file() + ".oldbin"));
  CHECK(serves(port));
  CHECK(run_wsserver({"-s", "status", "--pid_file", server.pid_file()}).status == 0);
  CHECK_FALSE(server.wait_exit(100ms));
}

TEST_CASE("a second upgrade while one is under way is refused", "[no-valgrind]") {
  InstalledBinary binary;
  auto started = binary.start({"--workers", "2"});
  Server& server = *started;
  // A new master slow to start: the first upgrade stays under way a while.
  binary.install_script("sleep 3\nexec '" + binary.original() + "' \"$@\"");
  auto first = std::async(std::launch::async, [&] { return run_wsserver(server.same_files({"-s", "upgrade"}), 60s); });
  REQUIRE(server.wait_log("upgrade: started"));
  auto second = run_wsserver(server.same_files({"-s", "upgrade"}), 60s);
  CHECK(second.status == 1);
  CHECK_THAT(second.err, Catch::Contains("an upgrade is under way"));
  // Meanwhile -s status asks the old master, on its control socket's .oldbin name.
  auto status = run_wsserver(server.same_files({"-s", "status"}));
  CHECK(status.status == 0);
  CHECK_THAT(status.out, Catch::Contains("pid " + std::to_string(server.pid())));
  server.signal(SIGUSR2);
  CHECK(server.wait_log("upgrade refused: an upgrade is already under way"));
  auto r = first.get();
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(server.wait_exit(20s) == 0);
  CHECK(ws::running_master(server.pid_file()) == ws::read_pid(server.pid_file()));
  CHECK(ws::read_pid(server.pid_file()) != server.pid());
}

TEST_CASE("upgrade of a daemon (-d): the pid file holds the new daemon, which serves", "[no-valgrind]") {
  InstalledBinary binary;
  test::TempDir dir;
  std::string pid_file = dir.file("w.pid");
  test::DaemonGuard guard{pid_file};
  std::vector<std::string> files{"--pid_file", pid_file, "--log_file", dir.file("log")};
  std::vector<std::string> start{"-d", "--listen", "127.0.0.1:0", "--workers", "2", "--min_spare", "0"};
  start.insert(start.end(), files.begin(), files.end());
  REQUIRE(binary.run(start).status == 0);
  int old_pid = ws::read_pid(pid_file);
  files.push_back("-s");
  files.push_back("status");
  std::string status = run_wsserver(files).out;
  size_t at = status.find("listening: 127.0.0.1:");
  REQUIRE(at != std::string::npos);
  uint16_t port = static_cast<uint16_t>(std::atoi(status.c_str() + at + 21));
  files.back() = "upgrade";
  auto r = run_wsserver(files, 60s);
  INFO(r.out << r.err << test::read_file(dir.file("log")));
  REQUIRE(r.status == 0);
  int new_pid = ws::read_pid(pid_file);
  CHECK(new_pid != old_pid);
  CHECK(test::wait_until([&] { return gone(old_pid); }, 20s));
  CHECK(ws::running_master(pid_file) == new_pid);
  CHECK(serves(port));
}

TEST_CASE("under systemd the old master passes MAINPID= on, and the new one notifies systemd", "[no-valgrind]") {
  InstalledBinary binary;
  test::TempDir dir;
  NotifySink sink(dir.file("notify"));
  auto started = binary.start({"--workers", "2"}, {"NOTIFY_SOCKET=" + sink.address(), "WATCHDOG_USEC=400000"});
  Server& server = *started;
  REQUIRE(sink.wait_for("READY=1"));
  auto r = run_wsserver(server.same_files({"-s", "upgrade"}), 60s);
  INFO(r.out << r.err << server.log());
  REQUIRE(r.status == 0);
  int new_pid = ws::read_pid(server.pid_file());
  REQUIRE(sink.wait_for("MAINPID=" + std::to_string(new_pid)));
  int handed = sink.find("MAINPID=");
  // The new master's READY=1 went to the old master, not here; its watchdog
  // and stop come here.
  CHECK(sink.find("READY=1", handed) == -1);
  CHECK(sink.wait_for("WATCHDOG=1"));
  CHECK(server.wait_exit(20s) == 0);
  kill(new_pid, SIGTERM);
  CHECK(sink.wait_for("STOPPING=1"));
  CHECK(sink.find("STOPPING=1") > handed);
  CHECK(test::wait_until([&] { return !test::alive(new_pid) || test::is_zombie(new_pid); }, 10s));
}
