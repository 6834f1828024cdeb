// The chat service: each message goes into the shared ring (chat_ring.hpp),
// and each connection delivers to its client what the others published.
#include <utility>

#include "wsserver/chat_ring.hpp"
#include "wsserver/scoreboard.hpp"
#include "wsserver/service.hpp"

namespace ws {
namespace {

class ChatService : public Service {
 public:
  explicit ChatService(const ServiceContext& c)
      : ring_(*c.ring), outbox_(c.outbox), slot_(c.slot), counters_(c.counters) {}

  bool whole_messages() const override { return true; }
  void feed(std::string_view part, Replies&) override { message_.append(part); }
  void end(Replies& out) override {
    // A person at a telnet prompt ends lines with CRLF; the CR is not text.
    if (!message_.empty() && message_.back() == '\r') message_.pop_back();
    if (!publish()) {
      out.append("ERR chat unavailable");
      out.end();
    } else if (counters_) {
      counters_->count_chat(1, 0);
    }
    message_.clear();
  }

  bool pushes() const override { return true; }
  void join(uint64_t client_id) override {
    client_id_ = client_id;
    cursor_ = ring_.join();
  }
  Collected collect(Replies& out, size_t room) override {
    // The ring counts every message against the room, the client's own too,
    // which it is never sent: read on until what it is sent fills the room,
    // or "more" would say something waits for a client that has nothing.
    size_t start = out.size();
    uint64_t delivered = 0;
    for (;;) {
      size_t added = out.size() - start;
      auto r = ring_.read(cursor_, room > added ? room - added : 0, [&](uint64_t sender, std::string_view message) {
        if (sender == client_id_) return;  // the sender gets no copy
        if (sender == ChatRing::gap_sender) out.append("ERR chat gap ");
        out.append(message);
        out.end();
        ++delivered;
      });
      // Counted once queued for the client: what its socket then refuses
      // is dropped with the client (too slow), and counted all the same.
      if (counters_) counters_->count_chat(0, std::exchange(delivered, 0));
      if (r.status == ChatRing::ReadStatus::overrun) return Collected::overrun;
      if (!r.more) return Collected::all;
      if (out.size() - start >= room) return Collected::more;
    }
  }
  bool prepare_wait() override { return ring_.prepare_wait(slot_, cursor_); }
  void finish_wait() override { ring_.finish_wait(slot_); }

 private:
  // With a chat bus (bus.hpp) the message goes out through Redis and comes
  // back into the ring; false while the bus is down: refused at once.
  bool publish() {
    if (!outbox_) ring_.publish(message_, client_id_);
    else if (outbox_->accepting()) outbox_->publish(message_, client_id_);
    else return false;
    return true;
  }

  ChatRing& ring_;
  ChatRing* outbox_;  // with a chat bus: where this instance's messages go
  int slot_;
  WorkerSlot* counters_;
  std::string message_;
  uint64_t client_id_ = 0;
  ChatCursor cursor_;
};

}  // namespace

std::unique_ptr<Service> make_chat_service(const ServiceContext& context) {
  return std::make_unique<ChatService>(context);
}

}  // namespace ws
