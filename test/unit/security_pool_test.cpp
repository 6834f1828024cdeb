// Issue 11, findings 4 and 5, where the logic is pure: which datagrams a
// udp: listener answers, and what the master believes of a scoreboard slot.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>

#include "wsserver/datagram.hpp"
#include "wsserver/scoreboard.hpp"

using ws::DatagramGuard;
using Verdict = ws::DatagramGuard::Verdict;

namespace {

sockaddr_storage address(const char* ip, uint16_t port) {
  sockaddr_storage a{};
  if (std::strchr(ip, ':')) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
  }
  return a;
}

ws::IpAddress ip(const char* text) {
  sockaddr_storage a = address(text, 1);
  return ws::ip_address_of(reinterpret_cast<sockaddr*>(&a));
}

Verdict judge(DatagramGuard& g, const char* from, uint16_t port, const char* to = nullptr, int64_t now = 0) {
  sockaddr_storage a = address(from, port);
  return g.judge(reinterpret_cast<sockaddr*>(&a), to ? ip(to) : ws::IpAddress{}, now);
}

DatagramGuard guard_for(std::initializer_list<std::pair<const char*, uint16_t>> own) {
  DatagramGuard g;
  for (auto [text, port] : own) {
    sockaddr_storage a = address(text, port);
    g.add_own(reinterpret_cast<sockaddr*>(&a));
  }
  return g;
}

}  // namespace

TEST_CASE("security: datagrams from the server's own udp addresses are not answered") {
  DatagramGuard g = guard_for({{"127.0.0.1", 5000}, {"0.0.0.0", 6000}, {"::", 7000}});
  CHECK(judge(g, "127.0.0.1", 5000) == Verdict::own_address);
  CHECK(judge(g, "::ffff:127.0.0.1", 5000) == Verdict::own_address);
  CHECK(judge(g, "127.0.0.2", 5000) == Verdict::answer);  // a specific bind sends from its address only
  CHECK(judge(g, "127.0.0.1", 5001) == Verdict::answer);
  // Wildcard binds: loopback, or the address the datagram was sent to.
  CHECK(judge(g, "127.9.9.9", 6000) == Verdict::own_address);
  CHECK(judge(g, "10.1.2.3", 6000, "10.1.2.3") == Verdict::own_address);
  CHECK(judge(g, "10.1.2.3", 6000, "10.9.9.9") == Verdict::answer);
  CHECK(judge(g, "10.1.2.3", 6000) == Verdict::answer);
  CHECK(judge(g, "::1", 7000) == Verdict::own_address);
  CHECK(judge(g, "::1", 6000) == Verdict::own_address);  // a bare port binds both families
  CHECK(judge(g, "2001:db8::1", 7000, "2001:db8::1") == Verdict::own_address);
  CHECK(judge(g, "2001:db8::1", 7000, "2001:db8::2") == Verdict::answer);
}

TEST_CASE("security: datagrams from source port 0 and the echo-loop ports are not answered") {
  DatagramGuard g;
  for (uint16_t port : {0, 7, 13, 19, 37}) CHECK(judge(g, "192.0.2.1", port) == Verdict::loop_port);
  for (uint16_t port : {1, 8, 53, 123, 40000}) CHECK(judge(g, "192.0.2.1", port) == Verdict::answer);
}

TEST_CASE("security: replies to one udp source are capped at 100 a second") {
  DatagramGuard g;
  int answered = 0;
  for (int i = 0; i < 1000; ++i) answered += judge(g, "192.0.2.1", 4000, nullptr, 1000) == Verdict::answer;
  CHECK(answered == DatagramGuard::replies_per_second);
  CHECK(judge(g, "192.0.2.1", 4001, nullptr, 1000) == Verdict::over_rate);  // any port of that address
  CHECK(judge(g, "192.0.2.2", 4000, nullptr, 1000) == Verdict::answer);    // other sources are not held back
  // The allowance comes back with time, at the capped rate.
  CHECK(judge(g, "192.0.2.1", 4000, nullptr, 1010) == Verdict::answer);
  CHECK(judge(g, "192.0.2.1", 4000, nullptr, 1010) == Verdict::over_rate);
  answered = 0;
  for (int i = 0; i < 1000; ++i) answered += judge(g, "192.0.2.1", 4000, nullptr, 5000) == Verdict::answer;
  CHECK(answered == DatagramGuard::replies_per_second);
  // Loopback cannot be forged from outside: local clients are not capped.
  answered = 0;
  for (int i = 0; i < 1000; ++i) answered += judge(g, "127.0.0.1", 4000, nullptr, 5000) == Verdict::answer;
  CHECK(answered == 1000);
}

TEST_CASE("security: a scoreboard slot left mid-write is read in bounded time and reset when cleared") {
  ws::WorkerSlot slot;
  // What a worker killed between its two sequence stores, or a hostile one,
  // leaves: an odd sequence number, a busy state, nonsense everywhere.
  std::memset(static_cast<void*>(&slot), 3, sizeof slot);
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(slot.client());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  ws::SlotReading r = slot.read(1234, 5000);
  CHECK(r.state == ws::WorkerState::busy);  // the pid is not 1234's: nothing believed
  CHECK_FALSE(r.client);
  CHECK(r.counters.clients == 0);
  slot.clear();
  CHECK(slot.client());  // even again: readable at once
  ws::ClientAddress c{ip("192.0.2.7"), 4242};
  slot.set_client(c);
  REQUIRE(slot.client());
  CHECK(slot.client()->text() == "192.0.2.7:4242");
}

TEST_CASE("security: the master checks every scoreboard field a worker wrote") {
  ws::WorkerSlot slot;
  std::memset(static_cast<void*>(&slot), 0xff, sizeof slot);
  CHECK(slot.state() == ws::WorkerState::busy);  // no such state: neither idle nor free
  CHECK_FALSE(slot.client());                     // no such address family
  slot.clear();
  slot.assign(77, 1, 100);
  slot.set_state(ws::WorkerState::idle, INT64_MIN);
  CHECK(slot.read(77, 5000).state == ws::WorkerState::idle);
  CHECK(slot.read(77, 5000).since_ms == 0);
  slot.set_state(ws::WorkerState::idle, INT64_MAX);
  CHECK(slot.read(77, 5000).since_ms == 5000);
  CHECK(slot.read(78, 5000).state == ws::WorkerState::busy);  // not the child the master forked
  // A sequence left odd by a writer that never finished: the writer's next
  // store still leaves a readable address.
  std::memset(static_cast<void*>(&slot), 3, sizeof slot);
  slot.set_client({ip("192.0.2.8"), 80});
  REQUIRE(slot.client());
  CHECK(slot.client()->text() == "192.0.2.8:80");
}
