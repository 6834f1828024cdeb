#include "chat_ledger.hpp"

#include <algorithm>

namespace wsbench {

ChatLedger::ChatLedger(uint32_t clients, uint32_t per_client, size_t size)
    : clients_(clients),
      per_client_(per_client),
      total_(size_t{clients} * per_client),
      size_(size),
      live_(clients),
      heard_(size_t{clients} * clients, false),
      heard_by_(clients, 0),
      live_receiver_(clients, true),
      sent_(clients, 0),
      completed_(clients, 0),
      send_ns_(total_, 0),
      last_ns_(total_, 0),
      waiting_(total_, 0),
      seen_(size_t{clients} * total_, false),
      next_from_(size_t{clients} * clients, 0),
      orders_(clients) {
  for (auto& order : orders_) order.reserve(total_ - per_client);
}

bool ChatLedger::hear(uint32_t receiver, uint32_t sender, std::string* problem) {
  if (sender >= clients_) {
    ++counts_.bad_lines;
    *problem = "an announcement from client " + std::to_string(sender) + ", who does not exist";
    return false;
  }
  if (sender == receiver) {
    ++counts_.own_copies;
    *problem = "got its own announcement back";
    return false;
  }
  auto heard = heard_[size_t{receiver} * clients_ + sender];
  if (heard) return true;
  heard = true;
  if (++heard_by_[sender] + 1 == clients_) ++all_heard_;
  return true;
}

std::string ChatLedger::send(uint32_t sender, int64_t now_ns) {
  uint32_t seq = sent_[sender]++;
  uint32_t id = id_of(sender, seq);
  send_ns_[id] = now_ns;
  ++counts_.sent;
  waiting_[id] = live_ - (live_receiver_[sender] ? 1 : 0);
  outstanding_ += waiting_[id];
  if (waiting_[id] == 0) {
    ++completed_[sender];
    ++counts_.completed;
  }
  return chat_message(sender, seq, now_ns, size_);
}

bool ChatLedger::deliver(uint32_t receiver, const ChatLine& line, std::string_view text, int64_t now_ns,
                         std::string* problem) {
  uint32_t s = line.sender, q = line.seq;
  if (line.kind != ChatLine::Kind::message || s >= clients_ || q >= sent_[s] || send_ns_[id_of(s, q)] != line.send_ns ||
      text != chat_message(s, q, line.send_ns, size_)) {
    ++counts_.bad_lines;
    *problem = "a line that no client sent: \"" + std::string(text.substr(0, 80)) + "\"";
    return false;
  }
  uint32_t id = id_of(s, q);
  if (s == receiver) {
    ++counts_.own_copies;
    *problem = "got its own message " + name(id) + " back";
    return false;
  }
  if (seen(receiver, id)) {
    ++counts_.duplicates;
    *problem = "got " + name(id) + " twice";
    return false;
  }
  seen_[size_t{receiver} * total_ + id] = true;
  orders_[receiver].push_back(id);
  ++counts_.deliveries;
  counts_.last_delivery_ns = std::max(counts_.last_delivery_ns, now_ns);
  delivery_latency_.record(static_cast<uint64_t>(now_ns - line.send_ns));
  last_ns_[id] = std::max(last_ns_[id], now_ns);
  uint32_t& next = next_from_[size_t{receiver} * clients_ + s];
  bool in_order = q >= next;
  if (in_order) next = q + 1;
  // A client that left before the message was sent is not waited for.
  if (live_receiver_[receiver] && waiting_[id] > 0) wait_less(id);
  if (in_order) return true;
  ++counts_.out_of_order;
  *problem = "got " + name(id) + " after " + name(id_of(s, next - 1));
  return false;
}

void ChatLedger::wait_less(uint32_t id) {
  --outstanding_;
  if (--waiting_[id] > 0) return;
  uint32_t sender = id / per_client_;
  ++completed_[sender];
  ++counts_.completed;
  if (last_ns_[id] > 0) fan_out_latency_.record(static_cast<uint64_t>(last_ns_[id] - send_ns_[id]));
}

void ChatLedger::drop_client(uint32_t client) {
  if (!live_receiver_[client]) return;
  live_receiver_[client] = false;
  --live_;
  for (uint32_t s = 0; s < clients_; ++s) {
    for (uint32_t q = 0; q < sent_[s]; ++q) {
      uint32_t id = id_of(s, q);
      if (s == client) {
        outstanding_ -= waiting_[id];
        waiting_[id] = 0;
      } else if (!seen(client, id) && waiting_[id] > 0) {
        wait_less(id);
      }
    }
  }
}

std::string ChatLedger::name(uint32_t id) const {
  return "m" + std::to_string(id / per_client_) + "." + std::to_string(id % per_client_);
}

}  // namespace wsbench
