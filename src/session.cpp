#include "wsserver/session.hpp"

#include "wsserver/framing.hpp"
#include "wsserver/strip.hpp"

namespace ws {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_space(char c) { return is_strip_space(static_cast<unsigned char>(c)); }

bool prefix_of(std::string_view word, std::string_view command) { return command.substr(0, word.size()) == word; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool equals_lower(std::string_view s, std::string_view word) {
  if (s.size() != word.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (lower(s[i]) != word[i]) return false;
  return true;
}

}  // namespace

bool CommandMatcher::feed(std::string_view bytes) {
  for (char c : bytes) {
    bool space = is_space(c);
    switch (phase_) {
      case Phase::lead:
      case Phase::word: {
        if (space) {
          if (phase_ == Phase::word) phase_ = Phase::trail;
          break;
        }
        phase_ = Phase::word;
        if (length_ == 4) return (phase_ = Phase::no), false;
        word_[length_++] = lower(c);
        std::string_view word(word_, length_);
        if (!prefix_of(word, "exit") && !prefix_of(word, "quit") && !(auth_ && prefix_of(word, "auth")))
          return (phase_ = Phase::no), false;
        break;
      }
      case Phase::trail:
        if (space) break;
        // Only AUTH takes an argument.
        if (!(auth_ && std::string_view(word_, length_) == "auth")) return (phase_ = Phase::no), false;
        phase_ = Phase::secret;
        break;
      case Phase::secret:
        break;
      case Phase::no:
        return false;
    }
  }
  return phase_ != Phase::no;
}

Command classify(std::string_view message, bool auth, std::string_view* secret) {
  std::string_view m = trim(message);
  if (equals_lower(m, "exit") || equals_lower(m, "quit")) return Command::exit;
  if (!auth || m.size() < 4 || !equals_lower(m.substr(0, 4), "auth")) return Command::none;
  if (m.size() > 4 && !is_space(m[4])) return Command::none;
  if (secret) *secret = trim(m.substr(4));
  return Command::auth;
}

bool secret_matches(std::string_view given, std::string_view secret) {
  // Every byte of the secret is compared whatever differs, and the length
  // difference is folded in, so timing says nothing about the content.
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < secret.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(secret[i]));
  }
  return diff == 0;
}

Session::Session(Service& service, const SessionLimits& limits)
    : service_(service), limits_(limits), matcher_(limits.secret != nullptr), authenticated_(limits.secret == nullptr) {}

Session::Result Session::receive(std::string_view bytes, Replies& out) {
  size_t at = 0;
  TerminatorScan scan(bytes);
  while (at < bytes.size()) {
    size_t end = scan.next(at);
    take_part(bytes.substr(at, (end == std::string_view::npos ? bytes.size() : end) - at), out);
    if (end == std::string_view::npos) break;
    at = end + 1;
    Step step = end_message(out);
    if (step != Step::more) return {step, at};
  }
  return {Step::more, bytes.size()};
}

Session::Step Session::message_part(std::string_view part, bool last, Replies& out) {
  take_part(part, out);
  return last ? end_message(out) : Step::more;
}

Session::Step Session::finish(Replies& out) { return in_message_ ? end_message(out) : Step::more; }

void Session::notice(std::string_view text, Replies& out) {
  out.append(text);
  out.end();
}

void Session::take_part(std::string_view part, Replies& out) {
  if (part.empty()) return;
  in_message_ = true;
  message_bytes_ += part.size();
  if (!authenticated_ || service_.whole_messages()) {
    // Kept whole: before AUTH nothing is processed, and some services need
    // the message entire. Past max_message the rest is dropped and counted.
    too_long_ = too_long_ || held_.size() + part.size() > limits_.max_message;
    if (!too_long_) held_.append(part);
    return;
  }
  if (deciding_) {
    if (matcher_.feed(part) && held_.size() + part.size() <= limits_.max_message) {
      held_.append(part);
      return;
    }
    deciding_ = false;
    if (!held_.empty()) service_.feed(held_, out);
    held_.clear();
  }
  service_.feed(part, out);
}

Session::Step Session::end_message(Replies& out) {
  Step step = Step::more;
  std::string_view secret;
  Command command = too_long_ || !deciding_ ? Command::none : classify(held_, limits_.secret != nullptr, &secret);
  if (command != Command::none) {
    step = run_command(command, secret, out);
  } else if (too_long_) {
    notice("ERR message too long", out);
    ++too_long_notices_;
  } else if (!authenticated_) {
    notice("ERR authentication required", out);
    ++auth_required_notices_;
  } else {
    if (!held_.empty()) service_.feed(held_, out);
    service_.end(out);
  }
  if (step != Step::leave) ++messages_;
  if (command == Command::none && !authenticated_ && ++unauthenticated_replies_ >= max_unauthenticated_replies)
    step = Step::unauthenticated;
  reset_message();
  return step;
}

Session::Step Session::run_command(Command command, std::string_view secret, Replies& out) {
  if (command == Command::exit) return Step::leave;
  if (secret_matches(secret, *limits_.secret)) {
    authenticated_ = true;
    notice("OK", out);
    return Step::more;
  }
  ++auth_failures_;
  return Step::auth_failed;
}

void Session::reset_message() {
  held_.clear();
  matcher_.reset();
  deciding_ = true;
  too_long_ = false;
  in_message_ = false;
  message_bytes_ = 0;
}

}  // namespace ws
