#include "chat_group.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <sstream>

#include "access_log.hpp"

namespace soak {
namespace {

constexpr auto sync_interval = 100ms;
constexpr auto group_deadline = 60s;
std::atomic<long> next_group_id{1};

}  // namespace

ChatGroup::ChatGroup(const ChatTargets& targets, Ledger& ledger, Rng& rng)
    : t_(targets), ledger_(ledger), rng_(rng), id_(next_group_id++) {
  int size = uniform(rng_, 3, 5);
  int closer = chance(rng_, 0.5) ? uniform(rng_, 0, size - 1) : -1;
  for (int i = 0; i < size; ++i) {
    Member m;
    m.index = i;
    m.to_send = uniform(rng_, 3, 30);
    if (chance(rng_, 0.2)) m.oversize_at = uniform(rng_, 0, m.to_send - 1);
    m.closer = i == closer;
    members_.push_back(std::move(m));
  }
}

std::string ChatGroup::payload(int sender, int number) const {
  size_t length = 1 + static_cast<size_t>(id_ * 31 + sender * 17 + number * 13) % 300;
  std::string p;
  for (size_t i = 0; i < length; ++i) p += i % 7 == 6 ? ' ' : static_cast<char>('a' + (i + static_cast<size_t>(number)) % 26);
  return p;
}

bool ChatGroup::connect_all() {
  for (auto& m : members_) {
    const Endpoint& to = t_.streams[static_cast<size_t>(uniform(rng_, 0, static_cast<int>(t_.streams.size()) - 1))];
    End why = End::none;
    m.conn = Conn::open(to, &why);
    if (!m.conn) {
      fail_group(std::string("chat: ") + end_name(why), "group member to " + to.text());
      return false;
    }
    m.next_sync = Clock::now();
  }
  return true;
}

bool ChatGroup::heard_everything(const Member& m) const { return m.heard.size() + 1 == members_.size(); }

void ChatGroup::start_sending(Member& m) {
  std::string g = tag(), me = std::to_string(m.index);
  m.out += "R " + g + " " + me + "\n";
  m.ready_sent = true;
  for (int k = 0; k < m.to_send; ++k) {
    if (k == m.oversize_at)
      m.out += "D " + g + " " + me + " big " + std::string(t_.max_message + static_cast<size_t>(uniform(rng_, 1, 20000)), 'y') + "\n";
    // The closer's last message waits until it has heard everyone.
    if (m.closer && k == m.to_send - 1) break;
    m.out += "D " + g + " " + me + " " + std::to_string(k) + " " + payload(m.index, k) + "\n";
  }
}

void ChatGroup::step(Member& m) {
  auto now = Clock::now();
  if (!heard_everything(m)) {
    if (now >= m.next_sync) {
      m.out += "S " + tag() + " " + std::to_string(m.index) + "\n";
      m.next_sync = now + sync_interval;
    }
  } else if (!m.ready_sent) {
    start_sending(m);
  }
  if (m.closer && m.ready_sent && !m.closing && heard_all_messages(m)) {
    int k = m.to_send - 1;
    m.out += "D " + tag() + " " + std::to_string(m.index) + " " + std::to_string(k) + " " + payload(m.index, k);
    m.closing = true;
  }
  if (!m.out.empty()) {
    long n = send_some(m.conn->fd(), m.out.data(), m.out.size(), &m.failed);
    if (n > 0) m.out.erase(0, static_cast<size_t>(n));
  }
  if (m.closing && !m.shut && m.out.empty() && m.failed == End::none) {
    m.conn->half_close();  // the unterminated last message is delivered now
    m.shut = true;
  }
}

void ChatGroup::read(Member& m) {
  for (;;) {
    long n = receive_some(m.conn->fd(), m.in, 65536, &m.failed);
    if (n == 0) m.eof = true;
    if (n <= 0) break;
    for (size_t from = 0, nl; (nl = m.in.find('\n', from)) != std::string::npos;) {
      on_line(m, m.in.substr(from, nl - from));
      m.in.erase(0, nl + 1);
      from = 0;
      if (aborted_) return;
    }
  }
}

void ChatGroup::on_line(Member& m, const std::string& line) {
  std::string where = "group " + tag() + " member " + std::to_string(m.index);
  if (line == "ERR too many clients") {
    m.rejected = true;
    return;
  }
  if (line == "ERR too slow") {
    fail_group("chat: a member that reads was cut as too slow", where);
    return;
  }
  if (line == "ERR message too long") {
    if (m.oversize_at < 0 || ++m.too_long_replies > 1) fail_group("chat: unexpected ERR message too long", where);
    return;
  }
  if (line.size() > t_.max_message) {
    fail_group("chat: delivered a message over max_message", where + ": " + std::to_string(line.size()) + " bytes");
    return;
  }
  std::istringstream words(line);
  std::string type, group;
  int sender = -1;
  words >> type >> group >> sender;
  if (type == "X" || ((type == "S" || type == "R" || type == "D") && group != tag() && sender >= 0)) return;
  if ((type != "S" && type != "R" && type != "D") || sender < 0 || sender >= static_cast<int>(members_.size())) {
    fail_group("chat: garbled line", where + ": " + line.substr(0, 80));
    return;
  }
  if (sender == m.index) {
    fail_group("chat: the sender got its own message", where + ": " + line.substr(0, 80));
    return;
  }
  if (type != "D") {
    m.heard.insert(sender);
    return;
  }
  int number = -1;
  words >> number;
  std::string rest;
  std::getline(words, rest);
  std::string expected = " " + payload(sender, number);
  if (number != received_from(m, sender)) {
    fail_group("chat: lost or reordered message", where + ": from " + std::to_string(sender) + " got " +
                                                     std::to_string(number) + ", expected " + std::to_string(received_from(m, sender)));
  } else if (rest != expected) {
    fail_group("chat: wrong message", where + ": from " + std::to_string(sender) + " number " + std::to_string(number));
  } else {
    ++m.next_from[sender];
    m.order.emplace_back(sender, number);
    ledger_.count("chat messages verified");
  }
}

int ChatGroup::received_from(const Member& m, int sender) const {
  auto it = m.next_from.find(sender);
  return it == m.next_from.end() ? 0 : it->second;
}

bool ChatGroup::heard_all_messages(const Member& m) const {
  for (const auto& o : members_)
    if (o.index != m.index && received_from(m, o.index) < o.to_send) return false;
  return true;
}

bool ChatGroup::done(const Member& m) const {
  if (!m.ready_sent || !m.out.empty() || (m.closer && !m.eof)) return false;
  if (m.too_long_replies != (m.oversize_at >= 0 ? 1 : 0)) return false;
  return heard_all_messages(m);
}

// The server cut this member at chat_backlog: the soak's thread fell a
// backlog behind a burst, which the service allows (and the notice saying
// so was lost in the member's full buffers).
bool ChatGroup::cut_at_backlog(const Member& m) const {
  auto now = std::chrono::system_clock::now();
  auto opened = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - m.conn->opened());
  return await_access_log(t_.access_log, m.conn->key(), "too-slow", opened - 1s, 4s);
}

void ChatGroup::fail_group(const std::string& cause, const std::string& detail, const Member* failed) {
  if (aborted_) return;
  aborted_ = true;
  // A member whose worker was killed explains everything that went wrong in its group.
  for (const auto& m : members_) {
    if (m.conn && ledger_.killed_while_serving(t_.server, m.conn->key(), m.conn->opened())) {
      ledger_.excuse("chat: a group member's worker killed");
      for (auto& x : members_) x.conn.reset();
      return;
    }
  }
  if (failed && cut_at_backlog(*failed)) {
    ledger_.excuse("chat: a group member fell chat_backlog behind and was cut");
  } else {
    ledger_.fail(cause, detail);
  }
  for (auto& x : members_) x.conn.reset();
}

void ChatGroup::finish() {
  // One global order: any two members saw the messages of the others in the same order.
  for (const auto& a : members_)
    for (const auto& b : members_) {
      if (a.index >= b.index) continue;
      std::vector<std::pair<int, int>> sa, sb;
      for (const auto& x : a.order)
        if (x.first != b.index) sa.push_back(x);
      for (const auto& x : b.order)
        if (x.first != a.index) sb.push_back(x);
      if (sa != sb) {
        fail_group("chat: two members saw different orders", "group " + tag());
        return;
      }
    }
  ledger_.count("chat groups completed");
  for (auto& m : members_) {
    if (m.closer) continue;
    // Some leave with exit (the server closes), the others just close.
    if (chance(rng_, 0.5)) {
      End failed = End::none;
      send_some(m.conn->fd(), "exit\n", 5, &failed);
      auto until = Clock::now() + 10s;
      std::string sink;
      while (failed == End::none && Clock::now() < until) {
        if (!wait_for(m.conn->fd(), POLLIN, until)) continue;
        if (receive_some(m.conn->fd(), sink, 65536, &failed) == 0) break;
        sink.clear();
      }
      if (Clock::now() >= until) {
        fail_group("chat: exit did not close the connection", "group " + tag());
        return;
      }
    }
    m.conn.reset();
  }
}

void ChatGroup::run() {
  ledger_.count("chat clients", static_cast<long>(members_.size()));
  auto started = Clock::now();
  run_members();
  ledger_.maximum("chat group, longest (ms)",
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
}

void ChatGroup::run_members() {
  if (!connect_all()) return;
  auto deadline = Clock::now() + group_deadline;
  while (!aborted_) {
    if (std::all_of(members_.begin(), members_.end(), [&](const Member& m) { return done(m); })) {
      finish();
      return;
    }
    for (auto& m : members_) {
      if (m.rejected) {
        // overflow = reject with every worker busy: the documented answer.
        ledger_.excuse("chat: rejected, every worker busy");
        aborted_ = true;
        for (auto& x : members_) x.conn.reset();
        return;
      }
      if (m.failed != End::none || (m.eof && !m.closing)) {
        fail_group(std::string("chat: ") + end_name(m.failed != End::none ? m.failed : End::eof),
                   "group " + tag() + " member " + std::to_string(m.index) + " from " +
                       (m.conn->key().tcp.empty() ? "unix" : m.conn->key().tcp),
                   &m);
        return;
      }
    }
    if (Clock::now() >= deadline) {
      std::string missing;
      for (const auto& m : members_)
        if (!done(m)) missing += " " + std::to_string(m.index) + (m.ready_sent ? "(sending)" : "(syncing)");
      fail_group("chat: timeout", "group " + tag() + ", not done:" + missing);
      return;
    }
    std::vector<pollfd> fds;
    for (const auto& m : members_)
      fds.push_back({m.conn->fd(), static_cast<short>(m.eof ? 0 : POLLIN | (m.out.empty() ? 0 : POLLOUT)), 0});
    poll(fds.data(), fds.size(), 20);
    for (size_t i = 0; i < members_.size() && !aborted_; ++i) {
      if (!members_[i].eof && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) read(members_[i]);
      if (!aborted_) step(members_[i]);
    }
  }
}

}  // namespace soak
