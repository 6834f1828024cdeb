// wsbench's chat checks without a server: the message text, the ledger's
// verdict on each copy, and the global order check.
#include <catch2/catch.hpp>

#include "../../src/wsbench/chat_ledger.hpp"
#include "../../src/wsbench/chat_order.hpp"
#include "../../src/wsbench/chat_text.hpp"

using namespace wsbench;

namespace {

// Delivers sender's message `seq` to `receiver` as the server would.
bool deliver(ChatLedger& ledger, uint32_t receiver, uint32_t sender, uint32_t seq, int64_t send_ns, size_t size,
             std::string* problem) {
  std::string text = chat_message(sender, seq, send_ns, size);
  return ledger.deliver(receiver, parse_chat_line(text), text, send_ns + 1000, problem);
}

}  // namespace

TEST_CASE("a chat message names its sender, sequence and send time, and is padded to its size") {
  std::string text = chat_message(12, 345, 6789, 64);
  CHECK(text.size() == 64);
  CHECK(text.rfind("m12.345.6789 ", 0) == 0);
  CHECK(text.find_first_of(std::string("\n\r\0", 3)) == std::string::npos);
  ChatLine line = parse_chat_line(text);
  CHECK(line.kind == ChatLine::Kind::message);
  CHECK(line.sender == 12);
  CHECK(line.seq == 345);
  CHECK(line.send_ns == 6789);
  // Too small for padding: the fields alone.
  CHECK(chat_message(1, 2, 3, 4) == "m1.2.3");
  // The padding depends on sender and sequence.
  CHECK(chat_message(1, 2, 3, 64).substr(7) != chat_message(2, 1, 3, 64).substr(7));
}

TEST_CASE("chat lines: announcements, server notices and garbage") {
  CHECK(parse_chat_line(chat_hello(7)).kind == ChatLine::Kind::hello);
  CHECK(parse_chat_line(chat_hello(7)).sender == 7);
  CHECK(parse_chat_line("ERR too slow").kind == ChatLine::Kind::notice);
  CHECK(parse_chat_line("OK").kind == ChatLine::Kind::notice);
  for (const char* bad : {"", "m", "m1", "m1.2", "m1.2.", "m1.2.3x", "mx.2.3", "h", "h1x", "x1.2.3", "m-1.2.3"}) {
    INFO(bad);
    CHECK(parse_chat_line(bad).kind == ChatLine::Kind::bad);
  }
}

TEST_CASE("the ledger completes a message once every other client has it") {
  ChatLedger ledger(3, 10, 40);
  std::string text = ledger.send(0, 5000);
  ChatLine line = parse_chat_line(text);
  CHECK(ledger.sent(0) == 1);
  CHECK(ledger.outstanding() == 2);
  std::string problem;
  CHECK(ledger.deliver(1, line, text, 6000, &problem));
  CHECK(ledger.completed(0) == 0);
  CHECK(ledger.deliver(2, line, text, 9000, &problem));
  CHECK(ledger.completed(0) == 1);
  CHECK(ledger.outstanding() == 0);
  CHECK(ledger.counts().deliveries == 2);
  CHECK(ledger.fan_out_latency().count() == 1);
  CHECK(ledger.fan_out_latency().max() == 4000);
}

TEST_CASE("the ledger refuses own copies, duplicates, altered text and messages never sent") {
  ChatLedger ledger(3, 10, 40);
  std::string text = ledger.send(0, 5000);
  ChatLine line = parse_chat_line(text);
  std::string problem;
  CHECK_FALSE(ledger.deliver(0, line, text, 6000, &problem));
  CHECK(ledger.counts().own_copies == 1);
  CHECK(ledger.deliver(1, line, text, 6000, &problem));
  CHECK_FALSE(ledger.deliver(1, line, text, 7000, &problem));
  CHECK(ledger.counts().duplicates == 1);
  std::string altered = text;
  altered.back() = altered.back() == 'a' ? 'b' : 'a';
  CHECK_FALSE(ledger.deliver(2, parse_chat_line(altered), altered, 7000, &problem));
  CHECK_FALSE(deliver(ledger, 2, 1, 0, 5000, 40, &problem));  // client 1 sent nothing yet
  CHECK_FALSE(ledger.deliver(2, parse_chat_line("garbage"), "garbage", 7000, &problem));
  CHECK(ledger.counts().bad_lines == 3);
  CHECK(ledger.counts().deliveries == 1);
}

TEST_CASE("the ledger counts a sender's messages out of order") {
  ChatLedger ledger(2, 10, 40);
  std::string first = ledger.send(0, 100), second = ledger.send(0, 200);
  std::string problem;
  CHECK(ledger.deliver(1, parse_chat_line(second), second, 300, &problem));
  CHECK_FALSE(ledger.deliver(1, parse_chat_line(first), first, 400, &problem));
  CHECK(ledger.counts().out_of_order == 1);
  CHECK(ledger.counts().deliveries == 2);
}

TEST_CASE("the join: every client heard by every other, repeats allowed") {
  ChatLedger ledger(3, 1, 40);
  std::string problem;
  CHECK(ledger.hear(1, 0, &problem));
  CHECK(ledger.hear(1, 0, &problem));
  CHECK_FALSE(ledger.heard_by_all(0));
  CHECK(ledger.hear(2, 0, &problem));
  CHECK(ledger.heard_by_all(0));
  CHECK_FALSE(ledger.all_heard());
  for (auto [r, s] : {std::pair{0, 1}, {2, 1}, {0, 2}, {1, 2}}) CHECK(ledger.hear(r, s, &problem));
  CHECK(ledger.all_heard());
  CHECK_FALSE(ledger.hear(1, 1, &problem));
  CHECK_FALSE(ledger.hear(1, 3, &problem));
}

TEST_CASE("a client that leaves is no longer waited for, nor are its own messages") {
  ChatLedger ledger(3, 10, 40);
  std::string from0 = ledger.send(0, 100), from2 = ledger.send(2, 100);
  std::string problem;
  CHECK(ledger.deliver(1, parse_chat_line(from0), from0, 200, &problem));
  CHECK(ledger.outstanding() == 3);  // m0.0 for client 2; m2.0 for clients 0 and 1
  ledger.drop_client(2);
  CHECK(ledger.completed(0) == 1);
  CHECK(ledger.outstanding() == 0);
}

TEST_CASE("one global order: found when the clients agree, a conflict named when two disagree") {
  // Four clients, two messages each: ids sender * 2 + seq. Everyone sees
  // the order 0 2 4 6 1 3 5 7 without its own two.
  std::vector<uint32_t> global{0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<std::vector<uint32_t>> orders(4);
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t id : global)
      if (id / 2 != r) orders[r].push_back(id);
  CHECK(find_order_conflict(orders, 2).empty());
  // Client 3 sees m1.0 (id 2) and m2.0 (id 4) the other way round.
  std::swap(orders[3][1], orders[3][2]);
  std::string conflict = find_order_conflict(orders, 2);
  CHECK(conflict.find("opposite orders") != std::string::npos);
  CHECK(conflict.find("m1.0") != std::string::npos);
  CHECK(conflict.find("m2.0") != std::string::npos);
}
