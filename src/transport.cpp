#include "wsserver/transport.hpp"

namespace ws {

void Replies::end() {
  framing_->end(wire_, reply_);
  mark_end();
}

void Replies::append_framed(std::string_view frame) {
  wire_.append(frame);
  mark_end();
}

void Replies::mark_end() {
  uint64_t end = sent_ + wire_.size();
  if (no_ends() || ends_.back() != end) ends_.push_back(end);
}

void Replies::consume(size_t n) {
  wire_.erase(0, n);
  sent_ += n;
  while (!no_ends() && ends_[first_end_] <= sent_) last_end_ = ends_[first_end_++];
  // The taken ends go once they are half the vector, so a queue that never
  // quite empties (a chat client) does not grow it for ever.
  if (first_end_ > 0 && first_end_ * 2 >= ends_.size()) {
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(first_end_));
    first_end_ = 0;
  }
}

void Replies::clear() { consume(wire_.size()); }

void Replies::drop_unstarted() {
  if (last_end_ == sent_) {
    sent_ += wire_.size();
    last_end_ = sent_;
    wire_.clear();
    ends_.clear();
    first_end_ = 0;
  } else if (!no_ends()) {
    wire_.resize(static_cast<size_t>(ends_[first_end_] - sent_));
    ends_.resize(first_end_ + 1);
  }
}

Session::Result PlainTransport::receive(std::string_view bytes, Session& session, Replies& out) {
  return session.receive(bytes, out);
}

Session::Step PlainTransport::finish(Session& session, Replies& out) { return session.finish(out); }

}  // namespace ws
