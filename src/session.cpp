#include "wsserver/session.hpp"

namespace ws {
namespace {

size_t find_terminator(std::string_view bytes, size_t from) {
  for (size_t i = from; i < bytes.size(); ++i)
    if (bytes[i] == '\n' || bytes[i] == '\0') return i;
  return std::string_view::npos;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool prefix_of_command(const char* word, int length) {
  return std::string_view("exit").substr(0, length) == std::string_view(word, length) ||
         std::string_view("quit").substr(0, length) == std::string_view(word, length);
}

}  // namespace

bool CommandMatcher::feed(std::string_view bytes) {
  for (char c : bytes) {
    bool space = is_strip_space(static_cast<unsigned char>(c));
    switch (phase_) {
      case Phase::lead:
      case Phase::word:
        if (space) {
          if (phase_ == Phase::word) phase_ = Phase::trail;
          break;
        }
        phase_ = Phase::word;
        if (length_ == 4) return (phase_ = Phase::no), false;
        word_[length_++] = lower(c);
        if (!prefix_of_command(word_, length_)) return (phase_ = Phase::no), false;
        break;
      case Phase::trail:
        if (!space) return (phase_ = Phase::no), false;
        break;
      case Phase::no:
        return false;
    }
  }
  return phase_ != Phase::no;
}

bool CommandMatcher::matched() const { return phase_ != Phase::no && length_ == 4 && prefix_of_command(word_, 4); }

Session::Session(Service& service, std::string_view terminator, size_t max_message)
    : service_(service), terminator_(terminator), max_message_(max_message) {}

bool Session::receive(std::string_view bytes, std::string& out) {
  size_t at = 0;
  while (at < bytes.size()) {
    size_t end = find_terminator(bytes, at);
    take_part(bytes.substr(at, (end == std::string_view::npos ? bytes.size() : end) - at), out);
    if (end == std::string_view::npos) break;
    if (!end_message(out)) return false;
    at = end + 1;
  }
  return true;
}

bool Session::finish(std::string& out) { return !in_message_ || end_message(out); }

void Session::notice(std::string_view text, std::string& out) const {
  out.append(text);
  out.append(terminator_);
}

void Session::take_part(std::string_view part, std::string& out) {
  if (part.empty()) return;
  in_message_ = true;
  if (deciding_) {
    if (matcher_.feed(part) && held_.size() + part.size() <= max_message_) {
      held_.append(part);
      return;
    }
    deciding_ = false;
    if (!held_.empty()) service_.feed(held_, out);
    held_.clear();
  }
  service_.feed(part, out);
}

bool Session::end_message(std::string& out) {
  bool command = deciding_ && matcher_.matched();
  if (!command) {
    if (!held_.empty()) service_.feed(held_, out);
    service_.end(out);
    ++messages_;
  }
  held_.clear();
  matcher_.reset();
  deciding_ = true;
  in_message_ = false;
  return !command;
}

}  // namespace ws
