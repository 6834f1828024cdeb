// chat_ledger.hpp: the chat mode's books: every message each client sent and
// every copy each client received, checked as it arrives (sender, sequence,
// send time and text; no copy of one's own; each copy once; each sender's
// messages in order) and kept in arrival order for the global order check.
// A message is complete once every client still connected has its copy: that
// moment times its fan-out and opens its sender's window for the next.
// The join's announcements are booked here too: who has heard whom.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat_text.hpp"
#include "histogram.hpp"

namespace wsbench {

struct ChatCounts {
  uint64_t sent = 0;          // messages sent in the timed phase
  uint64_t deliveries = 0;    // first copies received by a client other than the sender
  uint64_t completed = 0;     // messages every connected client received
  uint64_t bad_lines = 0;     // unreadable, never sent, or not the text that was sent
  uint64_t own_copies = 0;    // a client got its own message back
  uint64_t duplicates = 0;    // a client got the same message twice
  uint64_t out_of_order = 0;  // a client got a sender's message after a later one of it
  int64_t last_delivery_ns = 0;
};

class ChatLedger {
 public:
  // Messages are `size` bytes (chat_message()); at most `per_client` each.
  ChatLedger(uint32_t clients, uint32_t per_client, size_t size);

  // `sender`'s announcement reached `receiver`; false (with *problem) if it
  // cannot have. Repeats are expected: announcements are sent until heard.
  bool hear(uint32_t receiver, uint32_t sender, std::string* problem);
  bool heard_by_all(uint32_t sender) const { return heard_by_[sender] + 1 == clients_; }
  bool all_heard() const { return all_heard_ == clients_; }

  // Sender's next message, stamped `now_ns` and counted as sent.
  std::string send(uint32_t sender, int64_t now_ns);
  uint32_t sent(uint32_t sender) const { return sent_[sender]; }
  uint32_t completed(uint32_t sender) const { return completed_[sender]; }

  // A line (`text` parsed as `line`: a message or unreadable) reached
  // `receiver`. Returns false if it is wrong in any way, with *problem
  // saying how.
  bool deliver(uint32_t receiver, const ChatLine& line, std::string_view text, int64_t now_ns, std::string* problem);

  // `client` is gone. The messages it will never get stop waiting for it,
  // and so do its own that some client still lacks: they may never have
  // left its socket.
  void drop_client(uint32_t client);
  // Copies still due to connected clients.
  uint64_t outstanding() const { return outstanding_; }

  const ChatCounts& counts() const { return counts_; }
  const Histogram& delivery_latency() const { return delivery_latency_; }  // send to each copy
  const Histogram& fan_out_latency() const { return fan_out_latency_; }    // send to the last copy
  // Per client, the messages it received (sender * per_client + seq), in order.
  const std::vector<std::vector<uint32_t>>& orders() const { return orders_; }
  uint32_t per_client() const { return per_client_; }
  // "m<sender>.<seq>" for a message id, for reports.
  std::string name(uint32_t id) const;

 private:
  uint32_t id_of(uint32_t sender, uint32_t seq) const { return sender * per_client_ + seq; }
  bool seen(uint32_t receiver, uint32_t id) const { return seen_[size_t{receiver} * total_ + id]; }
  void wait_less(uint32_t id);

  uint32_t clients_;
  uint32_t per_client_;
  size_t total_;  // clients * per_client message ids
  size_t size_;
  uint32_t live_;
  std::vector<bool> heard_;          // clients x clients
  std::vector<uint32_t> heard_by_;   // per client: how many others heard it
  uint32_t all_heard_ = 0;           // clients heard by every other
  std::vector<bool> live_receiver_;
  std::vector<uint32_t> sent_, completed_;
  std::vector<int64_t> send_ns_, last_ns_;
  std::vector<uint32_t> waiting_;    // per message: connected clients without their copy yet
  std::vector<bool> seen_;           // clients x messages
  std::vector<uint32_t> next_from_;  // clients x senders: the sequence number expected next
  std::vector<std::vector<uint32_t>> orders_;
  uint64_t outstanding_ = 0;
  ChatCounts counts_;
  Histogram delivery_latency_, fan_out_latency_;
};

}  // namespace wsbench
