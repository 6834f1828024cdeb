// The chat bus's pieces that need no Redis: its URL, its payload, its gap
// check, and what the chat service tells clients about the bus.
#include <catch2/catch.hpp>

#include "../support/replies.hpp"
#include "wsserver/bus.hpp"
#include "wsserver/chat_ring.hpp"
#include "wsserver/service.hpp"

namespace {

std::string url_error(const std::string& text) {
  std::string error;
  auto url = ws::parse_bus_url(text, &error);
  return url ? "" : error;
}

std::unique_ptr<ws::Service> bus_chat(ws::ChatRing& ring, ws::ChatRing& outbox) {
  return ws::make_service(ws::ServiceKind::chat, {&ring, 0, &outbox});
}

std::string say(ws::Service& s, const std::string& message) {
  test::Output out(ws::Terminator::lf);
  s.feed(message, out);
  s.end(out);
  return out.text();
}

}  // namespace

TEST_CASE("chat bus: URLs taken and refused", "[bus]") {
  auto url = ws::parse_bus_url("redis://127.0.0.1:6379", nullptr);
  REQUIRE(url);
  CHECK(url->host == "127.0.0.1");
  CHECK(url->port == 6379);
  CHECK(url->channel == "wsserver");
  url = ws::parse_bus_url("redis://[::1]:7000/room-1", nullptr);
  REQUIRE(url);
  CHECK(url->host == "::1");
  CHECK(url->channel == "room-1");
  CHECK(url->text() == "redis://[::1]:7000/room-1");
  CHECK(ws::parse_bus_url("redis://cache.example.org:6379/a.b:c_d", nullptr));

  CHECK(url_error("http://127.0.0.1:6379").find("redis://") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1").find("port") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1:0").find("port") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1:65536").find("port") != std::string::npos);
  CHECK(url_error("redis://:6379").find("host") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1:6379/").find("channel") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1:6379/news*").find("channel") != std::string::npos);
  CHECK(url_error("redis://127.0.0.1:6379/" + std::string(129, 'c')).find("channel") != std::string::npos);
  CHECK(url_error("redis://user@host:6379").find("host") != std::string::npos);
  CHECK(url_error("redis://[zz]:6379").find("IPv6") != std::string::npos);
}

TEST_CASE("chat bus: a payload holds any text and comes back whole", "[bus]") {
  std::string text = std::string("a\r\nb\0c ws1 ", 11) + "\xff";
  std::string payload = ws::bus_payload({0xfeedfacecafebeefULL, 41, 7ULL << 32 | 3, text});
  CHECK(payload.starts_with("ws1 feedfacecafebeef 29 700000003 "));
  auto e = ws::parse_bus_payload(payload);
  REQUIRE(e);
  CHECK(e->origin == 0xfeedfacecafebeefULL);
  CHECK(e->sequence == 41);
  CHECK(e->sender == (7ULL << 32 | 3));
  CHECK(e->text == text);
  auto empty = ws::parse_bus_payload(ws::bus_payload({1, 0, 0, ""}));
  REQUIRE(empty);
  CHECK(empty->text.empty());
}

TEST_CASE("chat bus: payloads that are not ours are refused", "[bus]") {
  for (const char* bad : {"", "hello", "ws1 ", "ws1 1 2 3", "ws1 1 2  x", "ws2 1 2 3 x", "ws1 G 2 3 x", "ws1 A 2 3 x",
                          "ws1 -1 2 3 x", "ws1 11111111111111111 2 3 x", "ws1 1 2 3x"})
    CHECK_FALSE(ws::parse_bus_payload(bad));
}

TEST_CASE("chat bus: jumps in an origin's numbers are gaps; repeats are dropped", "[bus]") {
  ws::GapTracker gaps;
  auto v = gaps.accept(1, 10);  // a new origin: no gap, whatever its number
  CHECK((v.deliver && v.lost == 0));
  v = gaps.accept(1, 11);
  CHECK((v.deliver && v.lost == 0));
  v = gaps.accept(1, 15);
  CHECK((v.deliver && v.lost == 3));
  v = gaps.accept(1, 15);
  CHECK_FALSE(v.deliver);
  v = gaps.accept(1, 12);
  CHECK_FALSE(v.deliver);
  v = gaps.accept(2, 0);  // origins are counted apart
  CHECK((v.deliver && v.lost == 0));
  v = gaps.accept(1, 16);
  CHECK((v.deliver && v.lost == 0));
}

TEST_CASE("chat bus: a message is refused at once while the bus is down, published while it is up", "[bus]") {
  auto ring = *ws::ChatRing::create(1 << 20);
  auto outbox = *ws::ChatRing::create(1 << 20);
  auto chat = bus_chat(ring, outbox);
  chat->join(1ULL << 32);
  auto cursor = outbox.join();
  CHECK(say(*chat, "early") == "ERR chat unavailable\n");
  outbox.set_accepting(true);
  CHECK(say(*chat, "hello\r") == "");
  std::vector<std::string> seen;
  outbox.read(cursor, 1 << 20, [&](uint64_t sequence, uint64_t sender, std::string_view text) {
    CHECK(sender == 1ULL << 32);
    seen.push_back(std::to_string(sequence) + " " + std::string(text));
  });
  CHECK(seen == std::vector<std::string>{"0 hello"});
  // Nothing reaches the chat ring but what the bus puts there.
  auto ring_cursor = ring.join();
  CHECK(ring_cursor.sequence == 0);
}

TEST_CASE("chat bus: gap entries reach every client as ERR chat gap N", "[bus]") {
  auto ring = *ws::ChatRing::create(1 << 20);
  auto outbox = *ws::ChatRing::create(1 << 20);
  auto a = bus_chat(ring, outbox), b = bus_chat(ring, outbox);
  a->join(1ULL << 32);
  b->join(2ULL << 32);
  ring.publish("mine", 1ULL << 32);
  ring.publish("3", ws::ChatRing::gap_sender);
  ring.publish("news", ws::ChatRing::nobody);
  test::Output out_a(ws::Terminator::lf), out_b(ws::Terminator::lf);
  a->collect(out_a, 1 << 20);
  b->collect(out_b, 1 << 20);
  CHECK(out_a.text() == "ERR chat gap 3\nnews\n");
  CHECK(out_b.text() == "mine\nERR chat gap 3\nnews\n");
}
