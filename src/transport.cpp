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
  if (ends_.empty() || ends_.back() != end) ends_.push_back(end);
}

void Replies::consume(size_t n) {
  wire_.erase(0, n);
  sent_ += n;
  while (!ends_.empty() && ends_.front() <= sent_) {
    last_end_ = ends_.front();
    ends_.pop_front();
  }
}

void Replies::clear() { consume(wire_.size()); }

void Replies::drop_unstarted() {
  if (last_end_ == sent_) {
    sent_ += wire_.size();
    last_end_ = sent_;
    wire_.clear();
    ends_.clear();
  } else if (!ends_.empty()) {
    wire_.resize(static_cast<size_t>(ends_.front() - sent_));
    ends_.resize(1);
  }
}

Session::Result PlainTransport::receive(std::string_view bytes, Session& session, Replies& out) {
  return session.receive(bytes, out);
}

Session::Step PlainTransport::finish(Session& session, Replies& out) { return session.finish(out); }

}  // namespace ws
