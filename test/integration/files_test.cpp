// The files shipped for the system: manual pages, sample config, systemd
// unit, logrotate rules, and make install / uninstall.
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

#include "../support/server.hpp"

namespace {

struct Shell {
  int status;
  std::string output;  // stdout and stderr together
};

Shell sh(const std::string& command) {
  Shell r{-1, ""};
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool have(const std::string& tool) { return sh("command -v " + tool).status == 0; }

// `make install` or `uninstall` of the binaries under test, into `root`. -o
// keeps make from rebuilding them: a test must not re-enter the build (under
// make asan that would compile the plain build beside the one being tested).
Shell make_into(const std::string& target, const std::string& root) {
  std::string build = test::build_dir();
  return sh("make -s -o " + build + "/wsserver -o " + build + "/wsbench BUILD=" + build + " " + target +
            " DESTDIR=" + root);
}

// Every config key, as `wsserver --help` lists the long options.
std::set<std::string> config_keys() {
  auto help = test::run_wsserver({"--help"});
  std::set<std::string> keys;
  std::regex option(R"(\n\s+--([a-z_]+) )");
  for (std::sregex_iterator it(help.out.begin(), help.out.end(), option), end; it != end; ++it) {
    std::string key = (*it)[1];
    if (key != "help" && key != "version" && key != "config" && key != "daemon" && key != "signal" && key != "json" &&
        key != "test")
      keys.insert(key);
  }
  return keys;
}

}  // namespace

TEST_CASE("the manual pages are clean under mandoc lint") {
  auto r = sh("mandoc -Tlint -W warning man/wsserver.8 man/wsserver.conf.5");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.empty());
}

TEST_CASE("every config key is in the sample config and the manual with its default") {
  auto keys = config_keys();
  REQUIRE(keys.size() == 36);
  std::string sample = test::read_file("etc/wsserver.conf"), manual = test::read_file("man/wsserver.conf.5");
  for (const auto& key : keys) {
    INFO(key);
    CHECK(std::regex_search(sample, std::regex("\n# " + key + " =")));
    CHECK(std::regex_search(manual, std::regex("\n\\.It Cm " + key + " Pq ")));
  }
  CHECK(test::run_wsserver({"-t", "-c", "etc/wsserver.conf"}).out == "configuration ok\n");
}

TEST_CASE("make install puts everything under DESTDIR and PREFIX, and uninstall removes it") {
  test::TempDir dest;
  std::string root = dest.path(), prefix = root + "/usr/local";
  auto first = make_into("install", root);
  INFO(first.output);
  REQUIRE(first.status == 0);
  for (const char* f : {"/sbin/wsserver", "/bin/wsbench", "/share/man/man1/wsbench.1", "/share/man/man8/wsserver.8", "/share/man/man5/wsserver.conf.5",
                        "/etc/wsserver.conf", "/lib/systemd/system/wsserver.service", "/lib/systemd/system/wsserver.socket",
                        "/share/wsserver/chat.html"})
    CHECK(std::filesystem::exists(prefix + f));
  CHECK(std::filesystem::exists(root + "/etc/logrotate.d/wsserver"));
  struct stat st {};
  REQUIRE(stat((prefix + "/sbin/wsserver").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
  if (have("man")) {
    auto page = sh("MANWIDTH=80 man -l " + prefix + "/share/man/man8/wsserver.8");
    CHECK(page.status == 0);
    CHECK_THAT(page.output, Catch::Contains("pre-forking socket server daemon"));
    auto conf = sh("MANWIDTH=80 man -l " + prefix + "/share/man/man5/wsserver.conf.5");
    CHECK_THAT(conf.output, Catch::Contains("graceful_timeout"));
  }
  // An edited config survives a second install and an uninstall.
  dest.write("usr/local/etc/wsserver.conf", "workers = 7\n");
  REQUIRE(make_into("install", root).status == 0);
  CHECK(test::read_file(prefix + "/etc/wsserver.conf") == "workers = 7\n");
  REQUIRE(make_into("uninstall", root).status == 0);
  CHECK_FALSE(std::filesystem::exists(prefix + "/sbin/wsserver"));
  CHECK_FALSE(std::filesystem::exists(prefix + "/bin/wsbench"));
  CHECK_FALSE(std::filesystem::exists(prefix + "/share/man/man8/wsserver.8"));
  CHECK_FALSE(std::filesystem::exists(root + "/etc/logrotate.d/wsserver"));
  CHECK_FALSE(std::filesystem::exists(prefix + "/share/wsserver"));
  CHECK(std::filesystem::exists(prefix + "/etc/wsserver.conf"));
}

TEST_CASE("the systemd units verify with the installed binary") {
  // make test installs it (TEST_PACKAGES: systemd); without it this fails.
  INFO("systemd-analyze is not installed: test/need-packages systemd");
  REQUIRE(have("systemd-analyze"));
  test::TempDir dest;
  REQUIRE(make_into("install", dest.path()).status == 0);
  // The unit names /usr/local; point it at the DESTDIR copy to verify it.
  std::string unit = test::read_file(dest.path() + "/usr/local/lib/systemd/system/wsserver.service");
  CHECK_THAT(unit, Catch::Contains("Type=notify"));
  CHECK_THAT(unit, Catch::Contains("ExecStart=/usr/local/sbin/wsserver -c /usr/local/etc/wsserver.conf"));
  unit = std::regex_replace(unit, std::regex("/usr/local"), dest.path() + "/usr/local");
  std::string copy = dest.write("wsserver.service", unit);
  // The socket unit is verified beside the service it starts.
  std::string socket = test::read_file(dest.path() + "/usr/local/lib/systemd/system/wsserver.socket");
  CHECK_THAT(socket, Catch::Contains("ListenStream="));
  std::string socket_copy = dest.write("wsserver.socket", socket);
  auto r = sh("MANPATH=" + dest.path() + "/usr/local/share/man systemd-analyze verify " + copy + " " + socket_copy);
  INFO(r.output);
  CHECK(r.status == 0);
}

TEST_CASE("the logrotate rules parse and reopen through wsserver") {
  std::string rules = test::read_file("etc/logrotate.d/wsserver");
  CHECK_THAT(rules, Catch::Contains("wsserver -c /usr/local/etc/wsserver.conf -s reopen"));
  if (!have("logrotate") && !have("/usr/sbin/logrotate")) {
    std::puts("SKIPPED: logrotate is not installed");
    return;
  }
  test::TempDir dir;
  auto r = sh("/usr/sbin/logrotate -d -s " + dir.file("state") + " etc/logrotate.d/wsserver");
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, !Catch::Contains("error"));
}
