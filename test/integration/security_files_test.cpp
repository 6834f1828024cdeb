// Security regressions about files in directories others can write to (issue
// 11, findings 2, 3 and 12): log files, the pid file, unix listener sockets.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/wait.hpp"
#include "wsserver/pidfile.hpp"

using namespace std::chrono_literals;
using test::read_file;
using test::run_wsserver;
using test::Server;

namespace {

const passwd& nobody() {
  const passwd* pw = getpwnam("nobody");
  REQUIRE(pw);
  return *pw;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st;
}

// A root-owned 0600 file an attacker would like to own or fill.
std::string make_victim(const test::TempDir& dir) { return dir.write("secret", "root only\n", 0600); }

void check_untouched(const std::string& victim) {
  struct stat st = stat_of(victim);
  CHECK(st.st_uid == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_file(victim) == "root only\n");
}

// A directory that `nobody` may write to, as /var/log/wsserver often is.
std::string nobody_dir(const test::TempDir& dir, const std::string& name, mode_t mode = 0755) {
  std::string path = dir.file(name);
  REQUIRE(mkdir(path.c_str(), mode) == 0);
  REQUIRE(chmod(path.c_str(), mode) == 0);  // whatever the umask
  REQUIRE(chown(path.c_str(), nobody().pw_uid, static_cast<gid_t>(-1)) == 0);
  return path;
}

std::vector<std::string> start_args(const test::TempDir& dir, const std::string& log_file) {
  return {"-c", "/dev/null", "--listen", "127.0.0.1:0", "--pid_file", dir.file("w.pid"), "--user", "nobody",
          "--workers", "1", "--log_file", log_file};
}

// A child that does nothing but can be signalled: the process a forged pid
// file points at.
int start_sleeper() {
  int pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Runs Server through a wrapper that plants `file` (with the pid the server
// will have: exec keeps it) as `nobody` would, just before the real binary
// starts.
struct PlantingWrapper {
  PlantingWrapper(const test::TempDir& dir, const std::string& file_prefix) {
    const char* old = std::getenv("WSSERVER");
    saved = old ? old : "";
    std::string script = "#!/bin/sh\nf=\"" + file_prefix + "$$\"\nprintf 'planted\\n' > \"$f\"\nchown nobody \"$f\"\nexec " +
                         test::wsserver_binary() + " \"$@\"\n";
    setenv("WSSERVER", dir.write("wrap.sh", script, 0755).c_str(), 1);
  }
  ~PlantingWrapper() { restore(); }
  void restore() {
    if (saved.empty()) unsetenv("WSSERVER");
    else setenv("WSSERVER", saved.c_str(), 1);
  }
  std::string saved;
};

}  // namespace

TEST_CASE("security: a log file planted as a link or a FIFO is neither given away nor written through") {
  if (test::skip_unless_root("the attacks need a second user and the defence runs as root")) return;
  test::TempDir dir;
  std::string victim = make_victim(dir);
  std::string logs = nobody_dir(dir, "logs");
  std::string log = logs + "/ws.log";

  SECTION("a symlink at start: refused with exit 73") {
    REQUIRE(symlink(victim.c_str(), log.c_str()) == 0);
    REQUIRE(lchown(log.c_str(), nobody().pw_uid, nobody().pw_gid) == 0);
    auto r = run_wsserver(start_args(dir, log), 5s);
    CHECK(r.status == 73);
    CHECK_THAT(r.err, Catch::Contains("cannot open log file " + log));
    check_untouched(victim);
  }

  SECTION("a symlink at reopen: the error is logged and the old file kept") {
    Server server({"--workers", "1", "--user", "nobody", "--log_file", log});
    REQUIRE(test::wait_until([&] { return read_file(log).find("listening on") != std::string::npos; }));
    // logrotate moves the file; the attacker is quicker than the reopen.
    std::filesystem::rename(log, log + ".1");
    REQUIRE(symlink(victim.c_str(), log.c_str()) == 0);
    auto reopen = run_wsserver(server.same_files({"-s", "reopen"}));
    CHECK(reopen.status == 0);
    CHECK(test::wait_until([&] { return read_file(log + ".1").find("reopened log files") != std::string::npos; }));
    CHECK_THAT(read_file(log + ".1"), Catch::Contains("cannot open log file " + log));
    check_untouched(victim);
    CHECK(test::alive(server.pid()));
  }

  SECTION("a hard link: refused") {
    REQUIRE(link(victim.c_str(), log.c_str()) == 0);
    auto r = run_wsserver(start_args(dir, log), 5s);
    CHECK(r.status == 73);
    CHECK_THAT(r.err, Catch::Contains("cannot open log file " + log));
    check_untouched(victim);
  }

  SECTION("a FIFO, with or without a reader: refused at once") {
    REQUIRE(mkfifo(log.c_str(), 0666) == 0);
    auto alone = run_wsserver(start_args(dir, log), 5s);
    CHECK(alone.status == 73);
    CHECK_THAT(alone.err, Catch::Contains("cannot open log file " + log));
    int reader = open(log.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(reader >= 0);
    auto read = run_wsserver(start_args(dir, log), 5s);
    close(reader);
    CHECK(read.status == 73);
    CHECK_THAT(read.err, Catch::Contains("not a regular file"));
  }
}

TEST_CASE("security: the pid file cannot be planted or forged in a shared directory") {
  if (test::skip_unless_root("the attacks need a second user and the defence runs as root")) return;
  test::TempDir dir;
  std::string shared = dir.file("shared");
  REQUIRE(mkdir(shared.c_str(), 01777) == 0);
  REQUIRE(chmod(shared.c_str(), 01777) == 0);
  std::string pid_file = shared + "/w.pid";

  SECTION("a temp file planted under the name the master would use does not become the pid file") {
    PlantingWrapper wrapper(dir, pid_file + ".tmp.");
    Server server({"--workers", "1", "--pid_file", pid_file});
    wrapper.restore();
    std::string planted = pid_file + ".tmp." + std::to_string(server.pid());
    REQUIRE(std::filesystem::exists(planted));
    CHECK(read_file(planted) == "planted\n");
    CHECK(stat_of(planted).st_uid == nobody().pw_uid);
    CHECK(ws::read_pid(pid_file) == server.pid());
    CHECK(stat_of(pid_file).st_uid == 0);
    CHECK(stat_of(pid_file).st_ino != stat_of(planted).st_ino);
  }

  SECTION("-s stop does not signal a pid written into the pid file by someone else") {
    Server server({"--workers", "1", "--pid_file", pid_file});
    int sleeper = start_sleeper();
    {
      // Rewritten in place: the master still holds its lock on this file.
      int fd = open(pid_file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      REQUIRE(fd >= 0);
      std::string text = std::to_string(sleeper) + "\n";
      REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
      close(fd);
    }
    auto stop = run_wsserver(server.same_files({"-s", "stop"}));
    CHECK(stop.status == 1);
    CHECK_THAT(stop.err, Catch::Contains("not signalling pid " + std::to_string(sleeper)) &&
                             Catch::Contains("is pid " + std::to_string(server.pid())));
    CHECK(waitpid(sleeper, nullptr, WNOHANG) == 0);  // still running
    CHECK(test::alive(server.pid()));
    kill(sleeper, SIGKILL);
    waitpid(sleeper, nullptr, 0);
  }
}

TEST_CASE("security: unix listeners get unix_mode and unix_group whatever the umask") {
  if (test::skip_unless_root("the attacks need a second user and the defence runs as root")) return;
  // The umask that made these sockets 0755 before unix_mode existed.
  struct UmaskGuard {
    mode_t old = umask(022);
    ~UmaskGuard() { umask(old); }
  } guard;
  const group* nogroup = getgrnam("nogroup");
  REQUIRE(nogroup);
  gid_t nogroup_gid = nogroup->gr_gid;

  SECTION("0660 by default") {
    Server server({"--workers", "1", "--listen", "unix:{dir}/s.sock"});
    CHECK((stat_of(server.dir().file("s.sock")).st_mode & 0777) == 0660);
  }
  SECTION("unix_mode 0600") {
    Server server({"--workers", "1", "--listen", "unix:{dir}/s.sock", "--unix_mode", "0600"});
    CHECK((stat_of(server.dir().file("s.sock")).st_mode & 0777) == 0600);
  }
  SECTION("unix_group names the group") {
    Server server({"--workers", "1", "--listen", "unix:{dir}/s.sock", "--unix_group", "nogroup"});
    struct stat st = stat_of(server.dir().file("s.sock"));
    CHECK(st.st_gid == nogroup_gid);
    CHECK(st.st_uid == 0);
  }
  SECTION("the workers' group by default") {
    Server server({"--workers", "1", "--listen", "unix:{dir}/s.sock", "--user", "nobody", "--group", "nogroup"});
    CHECK(stat_of(server.dir().file("s.sock")).st_gid == nogroup_gid);
    // A worker running as nobody:nogroup can still serve through it.
    test::Client c = test::Client::connect_unix(server.dir().file("s.sock"));
    REQUIRE(c.send("a b\n"));
    CHECK(c.reply() == "ab");
  }
}
