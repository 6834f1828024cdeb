// user/group: workers drop to them before serving; the master keeps root.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"
#include "../support/status_json.hpp"
#include "../support/wait.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;
using test::status_numbers;

TEST_CASE("workers run as user and group with real effective and saved ids") {
  if (test::skip_unless_root("privileges can only be dropped by root")) return;
  const passwd* pw = getpwnam("nobody");
  const group* gr = getgrnam("nogroup");
  REQUIRE(pw);
  REQUIRE(gr);
  uid_t uid = pw->pw_uid;
  gid_t gid = gr->gr_gid;
  Server server({"--workers", "2", "--user", "nobody", "--group", "nogroup", "--log_file", "{dir}/w.log"});
  REQUIRE(server.wait_workers(2));
  Client c = Client::connect(server.port());  // a worker that has served too
  REQUIRE(c.send("x y\n"));
  REQUIRE(c.reply() == "xy");
  // The groups initgroups() gives nobody with nogroup as its group.
  int count = 64;
  std::vector<gid_t> expected(64);
  REQUIRE(getgrouplist("nobody", gid, expected.data(), &count) >= 0);
  std::set<long> want(expected.begin(), expected.begin() + count);
  // A worker still starting has not dropped yet (it takes a while under
  // valgrind): look once the master sees every worker idle or busy.
  REQUIRE(test::wait_until([&] {
    auto s = test::query_status(test::control_socket_of(server.pid_file()));
    return s && s->workers.size() == 2 && std::all_of(s->workers.begin(), s->workers.end(), [](const auto& w) {
             return w.state == "idle" || w.state == "busy";
           });
  }));
  for (int w : server.workers()) {
    INFO("worker " << w);
    CHECK(status_numbers(w, "Uid") == std::vector<long>(4, uid));
    CHECK(status_numbers(w, "Gid") == std::vector<long>(4, gid));
    auto groups = status_numbers(w, "Groups");
    CHECK(std::set<long>(groups.begin(), groups.end()) == want);
  }
  CHECK(status_numbers(server.pid(), "Uid") == std::vector<long>(4, 0));
  // Log files are handed to the workers' user, so they can reopen them.
  struct stat st {};
  REQUIRE(stat(server.dir().file("w.log").c_str(), &st) == 0);
  CHECK(st.st_uid == uid);
  c.close();
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}

TEST_CASE("an unknown user or group is a start-up error") {
  auto user = test::run_wsserver({"-c", "/dev/null", "--listen", "127.0.0.1:0", "--user", "no-such-user-here"});
  CHECK(user.status == 78);
  CHECK_THAT(user.err, Catch::Contains("unknown user \"no-such-user-here\""));
  auto group = test::run_wsserver({"-t", "-c", "/dev/null", "--user", "nobody", "--group", "no-such-group-here"});
  CHECK(group.status == 78);
  CHECK_THAT(group.err, Catch::Contains("unknown group \"no-such-group-here\""));
}
