// The chat ring in one process: order, wrap-around, bounds, overruns.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat_ring_check.hpp"
#include "wsserver/chat_ring.hpp"

using chat_check::patterned;
using chat_check::read_all;
using ws::ChatCursor;
using ws::ChatRing;

TEST_CASE("chat ring: messages come back in order with their sender and sequence") {
  auto ring = *ChatRing::create(64 * 1024);
  ChatCursor cursor = ring.join();
  CHECK(ring.publish("one", 7) == 0);
  CHECK(ring.publish("two", 8) == 1);
  CHECK(ring.publish("three", 7) == 2);
  ChatRing::ReadResult r;
  auto got = read_all(ring, cursor, &r);
  REQUIRE(r.status == ChatRing::ReadStatus::ok);
  CHECK_FALSE(r.more);
  CHECK(r.messages == 3);
  REQUIRE(got.size() == 3);
  CHECK(got[0].text == "one");
  CHECK(got[0].sender == 7);
  CHECK(got[1].text == "two");
  CHECK(got[1].sender == 8);
  CHECK(got[2].text == "three");
  CHECK(cursor.sequence == 3);
  CHECK(read_all(ring, cursor).empty());
}

TEST_CASE("chat ring: an empty message is delivered as one") {
  auto ring = *ChatRing::create(4096);
  ChatCursor cursor = ring.join();
  ring.publish("", 1);
  ring.publish("x", 2);
  ring.publish("", 3);
  auto got = read_all(ring, cursor);
  REQUIRE(got.size() == 3);
  CHECK(got[0].text.empty());
  CHECK(got[0].sender == 1);
  CHECK(got[1].text == "x");
  CHECK(got[2].text.empty());
  CHECK(got[2].sender == 3);
}

TEST_CASE("chat ring: wraps around many times with varied sizes and binary bytes") {
  auto ring = *ChatRing::create(4096);
  REQUIRE(ring.capacity() == 4096);
  ChatCursor cursor = ring.join();
  std::mt19937 random(12345);
  std::vector<std::string> pending;
  int index = 0;
  while (cursor.position < 200 * ring.capacity()) {
    // A batch that fits in the ring, so this reader, reading after each
    // batch, is never lapped.
    int batch = 1 + static_cast<int>(random() % 5);
    for (int b = 0; b < batch; ++b) {
      std::string m(random() % 700, '\0');
      for (auto& c : m) c = static_cast<char>(random());
      m += std::to_string(index++);
      ring.publish(m, static_cast<uint64_t>(index));
      pending.push_back(m);
    }
    ChatRing::ReadResult r;
    auto got = read_all(ring, cursor, &r);
    REQUIRE(r.status == ChatRing::ReadStatus::ok);
    REQUIRE(got.size() == pending.size());
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].text == pending[i]);
    pending.clear();
  }
  CHECK(cursor.sequence == static_cast<uint64_t>(index));
}

TEST_CASE("chat ring: max_bytes bounds what one read hands out") {
  auto ring = *ChatRing::create(64 * 1024);
  ChatCursor cursor = ring.join();
  for (int i = 0; i < 10; ++i) ring.publish(std::string(100, static_cast<char>('0' + i)), 1);

  ChatRing::ReadResult r;
  CHECK(read_all(ring, cursor, &r, 0).empty());
  CHECK(r.more);
  // Each message counts 101; a read stops once 250 is reached: 3 messages.
  auto got = read_all(ring, cursor, &r, 250);
  CHECK(got.size() == 3);
  CHECK(r.more);
  CHECK(got[2].text == std::string(100, '2'));
  // A budget smaller than the next message still lets that one message through.
  got = read_all(ring, cursor, &r, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == std::string(100, '3'));
  got = read_all(ring, cursor, &r, 1000000);
  CHECK(got.size() == 6);
  CHECK_FALSE(r.more);
}

TEST_CASE("chat ring: a reader a whole ring behind is overrun and sees no overwritten bytes") {
  auto ring = *ChatRing::create(4096);
  const ChatCursor start = ring.join();
  // 40-byte messages make 64-byte entries: 64 of them fill the ring exactly.
  auto message = [](int i) { return patterned(0, i, 40 - patterned(0, i, 0).size()); };
  for (int i = 0; i < 64; ++i) ring.publish(message(i), 0);
  ChatCursor full = start;
  auto got = read_all(ring, full);
  REQUIRE(got.size() == 64);  // a whole ring of unread entries is still intact
  for (int i = 0; i < 64; ++i) CHECK(got[i].text == message(i));

  ring.publish(message(64), 0);
  ChatCursor lapped = start;
  ChatRing::ReadResult r;
  got = read_all(ring, lapped, &r);
  CHECK(r.status == ChatRing::ReadStatus::overrun);
  CHECK(got.empty());  // its first entry is the one overwritten
  // The reader that kept up is not disturbed.
  got = read_all(ring, full, &r);
  REQUIRE(r.status == ChatRing::ReadStatus::ok);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == message(64));

  // Lapped many times over, partway through a run of small reads.
  ChatCursor slow = full;
  for (int i = 65; i < 1000; ++i) ring.publish(message(i), 0);
  got = read_all(ring, slow, &r, 100);
  CHECK(r.status == ChatRing::ReadStatus::overrun);
  CHECK(got.empty());
  ChatCursor fresh = ring.join();
  ring.publish("after", 1);
  got = read_all(ring, fresh, &r);
  REQUIRE(r.status == ChatRing::ReadStatus::ok);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == "after");
}

TEST_CASE("chat ring: join skips history, and a reader can skip its own messages") {
  auto ring = *ChatRing::create(4096);
  for (int i = 0; i < 5; ++i) ring.publish("old " + std::to_string(i), 1);
  ChatCursor cursor = ring.join();
  CHECK(cursor.sequence == 5);
  ring.publish("mine", 42);
  ring.publish("theirs", 43);
  std::vector<std::string> delivered;
  auto r = ring.read(cursor, SIZE_MAX, [&](uint64_t sender, std::string_view m) {
    if (sender != 42) delivered.emplace_back(m);
  });
  CHECK(r.status == ChatRing::ReadStatus::ok);
  CHECK(r.messages == 2);
  CHECK(delivered == std::vector<std::string>{"theirs"});
}

TEST_CASE("chat ring: sizes and limits") {
  CHECK(ChatRing::capacity_for(0) == size_t{8} << 20);
  CHECK(ChatRing::capacity_for(65536) == size_t{8} << 20);
  size_t big = ChatRing::capacity_for(size_t{1} << 30);
  CHECK(big >= 4 * ((size_t{1} << 30) + 24));
  CHECK(big % (1 << 20) == 0);
  CHECK(ChatRing::capacity_for(SIZE_MAX) == size_t{16} << 30);

  auto ring = *ChatRing::create(1000);
  CHECK(ring.capacity() == static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  CHECK(ring.max_message() == ring.capacity() - 24);
  CHECK_THROWS_AS(ring.publish(std::string(ring.max_message() + 1, 'x'), 1), std::length_error);
  ChatCursor cursor = ring.join();
  ring.publish("a", 1);
  ring.publish(std::string(ring.max_message(), 'x'), 1);  // fills the ring alone, after a wrap
  ChatRing::ReadResult r;
  auto got = read_all(ring, cursor, &r);
  CHECK(r.status == ChatRing::ReadStatus::overrun);  // "a" was overwritten
  cursor = ring.join();
  ring.publish(std::string(ring.max_message(), 'y'), 1);
  got = read_all(ring, cursor, &r);
  REQUIRE(r.status == ChatRing::ReadStatus::ok);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == std::string(ring.max_message(), 'y'));

  ChatRing moved = std::move(ring);
  CHECK(moved.capacity() == got[0].text.size() + 24);
  CHECK_THROWS_AS(moved.attach(ChatRing::max_readers, 1), std::out_of_range);
}

TEST_CASE("chat ring: prepare_wait refuses to sleep when something is unread") {
  auto ring = *ChatRing::create(4096);
  ring.attach(0, getpid());
  ChatCursor cursor = ring.join();
  CHECK(ring.prepare_wait(0, cursor));
  ring.finish_wait(0);
  ring.publish("x", 1);
  CHECK_FALSE(ring.prepare_wait(0, cursor));
  read_all(ring, cursor);
  CHECK(ring.prepare_wait(0, cursor));
  ring.finish_wait(0);
  ring.detach(0);
}
