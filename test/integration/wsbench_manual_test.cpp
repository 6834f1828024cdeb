// wsbench(1) is clean under mandoc lint and documents every option --help lists.
#include <cstdio>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

#include "../support/program.hpp"

namespace {

// Output (stdout and stderr) of a shell command.
std::string shell_output(const std::string& command) {
  std::string out;
  if (FILE* p = popen((command + " 2>&1").c_str(), "r")) {
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, p)) > 0;) out.append(buffer, n);
    pclose(p);
  }
  return out;
}

}  // namespace

TEST_CASE("the wsbench manual is clean under mandoc lint") {
  std::string lint = shell_output("mandoc -Tlint -W warning man/wsbench.1 && echo lint-ok");
  INFO(lint);
  CHECK(lint == "lint-ok\n");
}

TEST_CASE("the wsbench manual documents every option of --help") {
  test::ProgramResult help = test::run_program({test::wsbench_binary(), "--help"});
  REQUIRE(help.status == 0);
  std::string manual = shell_output("cat man/wsbench.1");
  std::regex long_option("--([a-z][a-z-]+)");
  int seen = 0;
  for (std::sregex_iterator it(help.out.begin(), help.out.end(), long_option), end; it != end; ++it) {
    std::string name = (*it)[1];
    INFO("--" << name);
    std::string escaped = std::regex_replace(name, std::regex("-"), "\\-");
    CHECK(manual.find("Fl \\-" + escaped) != std::string::npos);
    ++seen;
  }
  CHECK(seen >= 14);
}
