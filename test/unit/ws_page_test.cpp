// The chat page: built into the binary, or read from ws_page's file with
// the care a file read by root deserves.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../support/tempdir.hpp"
#include "wsserver/ws_page.hpp"

TEST_CASE("the built-in page is etc/chat.html, byte for byte") {
  std::string shipped = test::read_file("etc/chat.html");
  REQUIRE(shipped.size() > 100);
  CHECK(ws::builtin_ws_page() == shipped);
  std::string page, error;
  REQUIRE(ws::ws_page_for("", &page, &error));
  CHECK(page == shipped);
}

TEST_CASE("the built-in page fetches nothing from elsewhere and connects back to its own host") {
  auto page = ws::builtin_ws_page();
  for (const char* outside : {"http://", "https://", "src=", "<link", "@import", "url("}) {
    INFO(outside);
    CHECK(page.find(outside) == std::string_view::npos);
  }
  CHECK(page.find("location.host") != std::string_view::npos);
  CHECK(page.find("innerHTML") == std::string_view::npos);
}

TEST_CASE("ws_page names a file that is read whole") {
  test::TempDir dir;
  std::string path = dir.write("page.html", "<p>hello</p>\n");
  std::string page, error;
  REQUIRE(ws::ws_page_for(path, &page, &error));
  CHECK(page == "<p>hello</p>\n");
}

TEST_CASE("ws_page refuses a link, a FIFO, a directory, a missing or too large file") {
  test::TempDir dir;
  std::string real = dir.write("real.html", "x");
  REQUIRE(symlink(real.c_str(), dir.file("link.html").c_str()) == 0);
  REQUIRE(mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  std::string big = dir.write("big.html", std::string(ws::max_ws_page + 1, 'x'));
  struct Case {
    std::string path, why;
  };
  for (const Case& c : {Case{dir.file("link.html"), "is a symbolic link"}, Case{dir.file("fifo"), "not a regular file"},
                        Case{dir.path(), "not a regular file"}, Case{dir.file("none"), "No such file"},
                        Case{big, "larger than 1048576 bytes"}}) {
    INFO(c.path);
    std::string page = "untouched", error;
    CHECK_FALSE(ws::load_ws_page(c.path, &page, &error));
    CHECK_THAT(error, Catch::Contains("ws_page: ") && Catch::Contains(c.why));
    CHECK(page == "untouched");
  }
}
