// sd_notify's address forms and sd_listen_fds's environment, without a
// service manager.
#include "wsserver/sd_notify.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <string>

TEST_CASE("NOTIFY_SOCKET: a path, an abstract name, and what is refused") {
  sockaddr_un un;
  socklen_t len = 0;
  REQUIRE(ws::sd::socket_address("/run/systemd/notify", &un, &len));
  CHECK(std::string(un.sun_path) == "/run/systemd/notify");
  CHECK(len == offsetof(sockaddr_un, sun_path) + 20);  // with its NUL
  REQUIRE(ws::sd::socket_address("@abc", &un, &len));
  CHECK(un.sun_path[0] == '\0');
  CHECK(std::string(un.sun_path + 1, 3) == "abc");
  CHECK(len == offsetof(sockaddr_un, sun_path) + 4);  // exactly the name: no NUL counted
  CHECK_FALSE(ws::sd::socket_address("", &un, &len));
  CHECK_FALSE(ws::sd::socket_address("@", &un, &len));
  CHECK_FALSE(ws::sd::socket_address("relative/path", &un, &len));
  CHECK_FALSE(ws::sd::socket_address("/" + std::string(sizeof un.sun_path, 'x'), &un, &len));
}

TEST_CASE("LISTEN_FDS counts only when LISTEN_PID is ours, and is cleared once taken") {
  std::string me = std::to_string(getpid());
  setenv("LISTEN_PID", "1", 1);
  setenv("LISTEN_FDS", "2", 1);
  CHECK(ws::sd::listen_fds_count() == 0);
  setenv("LISTEN_PID", me.c_str(), 1);
  setenv("LISTEN_FDS", "x", 1);
  CHECK(ws::sd::listen_fds_count() == 0);
  setenv("LISTEN_FDS", "3", 1);
  setenv("LISTEN_FDNAMES", "web:wsserver-upgrade", 1);
  CHECK(ws::sd::listen_fds_count() == 3);
  ws::sd::ListenFds fds = ws::sd::take_listen_fds();
  CHECK(fds.count == 3);
  REQUIRE(fds.names.size() == 3);
  CHECK(fds.names[0] == "web");
  CHECK(fds.names[1] == "wsserver-upgrade");
  CHECK(fds.names[2].empty());
  CHECK(std::getenv("LISTEN_PID") == nullptr);
  CHECK(std::getenv("LISTEN_FDS") == nullptr);
  CHECK(std::getenv("LISTEN_FDNAMES") == nullptr);
  CHECK(ws::sd::listen_fds_count() == 0);
}
