#include "exchange.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace wsbench {
namespace {

std::string describe(int byte) {
  if (byte < 0) return "end of reply";
  char text[24];
  unsigned char b = static_cast<unsigned char>(byte);
  if (b >= 0x21 && b < 0x7f) std::snprintf(text, sizeof text, "0x%02x '%c'", b, b);
  else std::snprintf(text, sizeof text, "0x%02x", b);
  return text;
}

}  // namespace

void Exchange::start(const Message& message) {
  message_ = &message;
  sent_ = 0;
  received_ = 0;
  problem_.clear();
}

int Exchange::next_send(iovec* iov, int max) const {
  const std::string& body = message_->body;
  uint64_t body_bytes = message_->wire_size() - 1;
  uint64_t at = sent_;
  int n = 0;
  while (n < max && at < body_bytes) {
    size_t offset = body.empty() ? 0 : static_cast<size_t>(at % body.size());
    size_t length = static_cast<size_t>(std::min<uint64_t>(body.size() - offset, body_bytes - at));
    iov[n++] = {const_cast<char*>(body.data() + offset), length};
    at += length;
  }
  if (n < max && at == body_bytes) iov[n++] = {const_cast<char*>(&message_->terminator), 1};
  return n;
}

Progress Exchange::receive(const char* data, size_t size) {
  const std::string& reply = message_->reply;
  uint64_t reply_bytes = message_->reply_size() - 1;
  while (size > 0) {
    if (received_ < reply_bytes) {
      size_t offset = static_cast<size_t>(received_ % reply.size());
      size_t length = static_cast<size_t>(std::min<uint64_t>({reply.size() - offset, reply_bytes - received_, size}));
      if (std::memcmp(data, reply.data() + offset, length) != 0) {
        size_t i = 0;
        while (data[i] == reply[offset + i]) ++i;
        return fail(received_ + i, data[i]);
      }
      received_ += length;
      data += length;
      size -= length;
    } else if (received_ == reply_bytes) {
      if (*data != message_->reply_end) return fail(received_, *data);
      ++received_;
      ++data;
      --size;
    } else {
      return fail(received_, *data);
    }
  }
  return received_ == reply_bytes + 1 ? Progress::complete : Progress::more;
}

Progress Exchange::fail(uint64_t at, char got) {
  uint64_t reply_bytes = message_->reply_size() - 1;
  int expected = at < reply_bytes ? static_cast<unsigned char>(message_->reply[at % message_->reply.size()])
                 : at == reply_bytes ? static_cast<unsigned char>(message_->reply_end) : -1;
  problem_ = "reply byte " + std::to_string(at) + ": expected " + describe(expected) + ", got " +
             describe(static_cast<unsigned char>(got));
  return Progress::mismatch;
}

}  // namespace wsbench
