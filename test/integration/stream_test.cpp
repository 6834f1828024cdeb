// A 64 MiB message without a newline streams through a worker in bounded memory.
#include <catch2/catch.hpp>
#include <thread>

#include "../support/client.hpp"
#include "../support/proc.hpp"
#include "../support/server.hpp"

using namespace std::chrono_literals;
using test::Client;
using test::Server;

// [no-valgrind]: RSS and volume.
TEST_CASE("a 64 MiB message streams through with the worker under 16 MiB of RSS", "[no-valgrind]") {
  Server server({"--workers", "1"});
  REQUIRE(server.wait_workers(1));
  int worker = server.workers().front();
  const std::string piece = "abc def\tghi\r\n";  // 13 bytes in, 9 out, no terminator
  const std::string chunk = [&] {
    std::string s;
    while (s.size() + piece.size() <= 65536) s += piece.substr(0, 12);  // drop the \n
    return s;
  }();
  const size_t total = 64u << 20, chunks = total / chunk.size();
  Client c = Client::connect(server.port());
  std::thread writer([&] {
    for (size_t i = 0; i < chunks; ++i)
      if (!c.send(chunk)) return;
    c.half_close();
  });
  auto reply = c.read_to_eof(120s);
  writer.join();
  REQUIRE(reply);
  REQUIRE(reply->size() == chunks * (chunk.size() / 12) * 9 + 1);
  CHECK(reply->back() == '\0');
  CHECK(reply->substr(0, 18) == "abcdefghiabcdefghi");
  CHECK(reply->find_first_of(std::string(" \t\r\n\v\f", 6)) == std::string::npos);
  long peak = test::status_kib(worker, "VmHWM");
  INFO("worker peak RSS " << peak << " KiB");
  CHECK(peak > 0);
  CHECK(peak < 16 * 1024);
}
