// Issue 11, findings 1, 7, 10 and 11: the workers' identity, the master's
// death, reload under -d, and what -s, -t and the secret file may trust.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <stdexcept>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/status_json.hpp"
#include "../support/wait.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/pidfile.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;
using test::status_field;
using test::status_numbers;

namespace {

bool refuses(uint16_t port) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 && errno == ECONNREFUSED;
}

// Waits until every worker the master reports is past its set-up.
bool workers_ready(const Server& server, size_t count) {
  return test::wait_until([&] {
    auto s = test::query_status(test::control_socket_of(server.pid_file()));
    return s && s->workers.size() == count && std::all_of(s->workers.begin(), s->workers.end(), [](const auto& w) {
             return w.state == "idle" || w.state == "busy";
           });
  });
}

// Starts wsserver with `args` in the background, output in `out`; the test
// reaps it (it is a subreaper for its servers anyway).
int spawn_wsserver(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> argv{test::wsserver_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid != 0) return pid;
  int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  dup2(o, 1);
  dup2(o, 2);
  close_range(3, ~0U, 0);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execv(cargv[0], cargv.data());
  _exit(127);
}

test::RunResult check_secret(const std::string& path) {
  return test::run_wsserver({"-t", "-c", "/dev/null", "--auth_file", path}, 3s);
}

}  // namespace

TEST_CASE("security: workers outlive a killed master when user is set") {
  if (test::skip_unless_root("workers drop to another user only under root")) return;
  Server server({"--workers", "3", "--user", "nobody"});
  REQUIRE(server.wait_workers(3));
  REQUIRE(workers_ready(server, 3));
  auto workers = server.workers();
  uint16_t port = server.port();
  const passwd* pw = getpwnam("nobody");
  REQUIRE(pw);
  for (int w : workers) REQUIRE(status_numbers(w, "Uid") == std::vector<long>(4, pw->pw_uid));
  kill(server.pid(), SIGKILL);
  REQUIRE(server.wait_exit() == 128 + SIGKILL);
  // Idle workers retire at once; none may stay to serve the port.
  CHECK(test::wait_until([&] {
    test::reap_children();
    return std::none_of(workers.begin(), workers.end(), [](int w) { return test::alive(w); });
  }, 3s));
  CHECK(test::wait_until([&] { return refuses(port); }, 2s));
}

TEST_CASE("security: workers serve as root by default") {
  if (test::skip_unless_root("workers drop to another user only under root")) return;
  const passwd* pw = getpwnam("nobody");
  REQUIRE(pw);
  const group* gr = getgrnam("nogroup");
  long uid = pw->pw_uid, gid = gr ? gr->gr_gid : pw->pw_gid;
  {
    Server server({"--workers", "2", "--log_file", "{dir}/w.log"});
    REQUIRE(workers_ready(server, 2));
    for (int w : server.workers()) {
      INFO("worker " << w);
      CHECK(status_numbers(w, "Uid") == std::vector<long>(4, uid));
      CHECK(status_numbers(w, "Gid") == std::vector<long>(4, gid));
    }
    CHECK(status_numbers(server.pid(), "Uid") == std::vector<long>(4, 0));
    CHECK(server.wait_log("no user set: workers run as nobody"));
    Client c = Client::connect(server.port());
    REQUIRE(c.send("a b\n"));
    CHECK(c.reply() == "ab");
    // The log stays the workers' to reopen after a rotation.
    struct stat st {};
    REQUIRE(stat(server.dir().file("w.log").c_str(), &st) == 0);
    CHECK(st.st_uid == static_cast<uid_t>(uid));
  }
  // Root only when asked for by name, and never silently.
  Server root({"--workers", "1", "--user", "root"});
  REQUIRE(workers_ready(root, 1));
  for (int w : root.workers()) CHECK(status_numbers(w, "Uid") == std::vector<long>(4, 0));
  CHECK(root.wait_log("user root: workers serve clients as root"));
  auto t = test::run_wsserver({"-t", "-c", "/dev/null", "--user", "root"});
  CHECK(t.status == 0);
  CHECK_THAT(t.err, Catch::Contains("workers serve clients as root"));
}

// A directory under the current one, so that a path to it is relative and
// means nothing from / (a relative path out of /tmp would: /.. is /).
struct LocalDir {
  LocalDir() {
    char pattern[] = "wsserver-test-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~LocalDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

TEST_CASE("security: reload fails with a relative -c under -d") {
  test::TempDir dir;
  LocalDir local;
  std::string pid_file = dir.file("w.pid"), log = dir.file("w.log");
  test::DaemonGuard guard{pid_file};
  auto conf = [&](int workers) {
    return dir.write("w.conf", "listen = 127.0.0.1:0\nmin_spare = 0\nworkers = " + std::to_string(workers) +
                                   "\npid_file = " + pid_file + "\nlog_file = " + log + "\n");
  };
  std::string relative = local.path + "/w.conf";
  std::filesystem::copy_file(conf(1), relative);
  auto r = test::run_wsserver({"-d", "-c", relative});
  REQUIRE(r.status == 0);
  int pid = ws::read_pid(pid_file);
  REQUIRE(pid > 0);
  std::filesystem::copy_file(conf(2), relative, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(kill(pid, SIGHUP) == 0);
  CHECK(test::wait_until([&] { return test::read_file(log).find("reloaded: generation 2, service strip, 2 workers") != std::string::npos; }));
  CHECK(test::read_file(log).find("reload failed") == std::string::npos);
}

TEST_CASE("security: -t trusts no secret file that is a FIFO, a link, too long or the workers' own") {
  test::TempDir dir;
  // A FIFO must not hang -t (or a start, or a reload): refused at once.
  std::string fifo = dir.file("fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto r = check_secret(fifo);
  CHECK(r.status == 78);
  CHECK_THAT(r.err, Catch::Contains("not a regular file"));
  std::string real = dir.write("secret", "s3cret\n", 0600);
  REQUIRE(check_secret(real).status == 0);
  std::string link = dir.file("link");
  REQUIRE(symlink(real.c_str(), link.c_str()) == 0);
  r = check_secret(link);
  CHECK(r.status == 78);
  CHECK_THAT(r.err, Catch::Contains("symbolic link"));
  // Cut at 4096 bytes, the secret would be what the file does not say.
  r = check_secret(dir.write("long", "s3cret\n" + std::string(5000, 'x'), 0600));
  CHECK(r.status == 78);
  CHECK_THAT(r.err, Catch::Contains("longer than 4096 bytes"));
  if (geteuid() == 0) {
    // A secret the workers' user may rewrite is no secret.
    const passwd* pw = getpwnam("nobody");
    REQUIRE(pw);
    std::string owned = dir.write("owned", "s3cret\n", 0600);
    REQUIRE(chown(owned.c_str(), pw->pw_uid, static_cast<gid_t>(-1)) == 0);
    r = check_secret(owned);
    CHECK(r.status == 78);
    CHECK_THAT(r.err, Catch::Contains("not by root or the user running wsserver"));
  }
}

// [no-valgrind]: under valgrind /proc shows the blocked signals of valgrind
// itself, which blocks them all and delivers them to the program its way.
TEST_CASE("security: -s quit does not inherit blocked signals: Ctrl-C ends its wait", "[no-valgrind]") {
  test::TempDir dir;
  // -s quit waits for a master held by a busy client: Ctrl-C must end it.
  Server server({"--workers", "1", "--graceful_timeout", "30"});
  Client c = Client::connect(server.port());
  REQUIRE(c.send("busy\n"));
  REQUIRE(c.reply() == "busy");
  std::string out = dir.file("quit.out");
  int quit = spawn_wsserver(server.same_files({"-s", "quit"}), out);
  REQUIRE(quit > 0);
  // Once the master has its SIGQUIT, -s is past any start-up and waits.
  REQUIRE(server.wait_log("graceful stop"));
  CHECK(std::stoull(status_field(quit, "SigBlk"), nullptr, 16) == 0);
  REQUIRE(kill(quit, SIGINT) == 0);
  int status = 0;
  bool ended = test::wait_until([&] { return waitpid(quit, &status, WNOHANG) == quit; }, 2s);
  if (!ended) {
    kill(quit, SIGKILL);
    waitpid(quit, &status, 0);
  }
  CHECK(ended);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGINT));
  c.close();
}
