// The chat service's side of a connection: what collect() hands its client.
#include <catch2/catch.hpp>

#include "../support/replies.hpp"
#include "wsserver/chat_ring.hpp"
#include "wsserver/service.hpp"

namespace {

std::unique_ptr<ws::Service> chat_service(ws::ChatRing& ring) {
  return ws::make_service(ws::ServiceKind::chat, {&ring, 0});
}

void publish(ws::Service& s, const std::string& message) {
  test::Output ignored;
  s.feed(message, ignored);
  s.end(ignored);
}

}  // namespace

// Found while soaking: a client's own messages used up the room collect()
// was given, so it said "more" while its client had nothing waiting, and
// the connection cut its client as too slow.
TEST_CASE("chat service: the sender's own messages do not count against its room") {
  auto ring = *ws::ChatRing::create(1 << 20);
  auto talker = chat_service(ring), listener = chat_service(ring);
  talker->join(1);
  listener->join(2);
  for (int i = 0; i < 100; ++i) publish(*talker, std::string(1000, 'x'));
  test::Output out_(ws::Terminator::lf);
  ws::Replies& out = out_;
  const std::string& text = out_.text();
  CHECK(talker->collect(out, 4096) == ws::Service::Collected::all);
  CHECK(text.empty());
  // The listener's room still bounds what it gets at once.
  CHECK(listener->collect(out, 4096) == ws::Service::Collected::more);
  CHECK(text.size() >= 4096);
  CHECK(text.size() < 4096 + 2 * 1001);
}

TEST_CASE("chat service: the others' messages behind the sender's own still fill the room") {
  auto ring = *ws::ChatRing::create(1 << 20);
  auto talker = chat_service(ring), other = chat_service(ring);
  talker->join(1);
  other->join(2);
  for (int i = 0; i < 10; ++i) publish(*talker, std::string(1000, 'x'));
  for (int i = 0; i < 10; ++i) publish(*other, std::string(999, 'y'));
  test::Output out_(ws::Terminator::lf);
  ws::Replies& out = out_;
  const std::string& text = out_.text();
  CHECK(talker->collect(out, 4096) == ws::Service::Collected::more);
  CHECK(text.size() >= 4096);
  CHECK(text.find('x') == std::string::npos);
  CHECK(text.substr(0, 1000) == std::string(999, 'y') + "\n");
}
