// chat_group.hpp: a group of chat clients driven together by one thread.
// Members announce themselves ("S g m") until each has heard every other,
// then say so once more ("R g m": whoever hears it knows the sender is
// joined, and the sender knows everyone else is), and only then send their
// numbered messages ("D g m k payload"), which every other member must
// therefore receive.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat_client.hpp"

namespace soak {

class ChatGroup {
 public:
  ChatGroup(const ChatTargets& targets, Ledger& ledger, Rng& rng);
  void run();

 private:
  struct Member {
    int index = 0;
    std::optional<Conn> conn;
    std::string out, in;  // to send; received, not yet a whole line
    std::set<int> heard;
    bool ready_sent = false;
    Clock::time_point next_sync;
    int to_send = 0;       // numbered messages it sends
    int oversize_at = -1;  // sends an oversized message before this number, or -1
    int too_long_replies = 0;
    bool closer = false;   // ends with an unterminated message and a half-close
    bool closing = false, shut = false, eof = false;
    std::map<int, int> next_from;            // next number expected from each sender
    std::vector<std::pair<int, int>> order;  // (sender, number) as received
    End failed = End::none;
    bool rejected = false;
  };

  void run_members();
  bool connect_all();
  void step(Member& m);
  void read(Member& m);
  void on_line(Member& m, const std::string& line);
  void start_sending(Member& m);
  int received_from(const Member& m, int sender) const;
  bool heard_all_messages(const Member& m) const;
  bool done(const Member& m) const;
  bool heard_everything(const Member& m) const;
  void finish();
  // `failed`: the member whose connection broke, if one did.
  void fail_group(const std::string& cause, const std::string& detail, const Member* failed = nullptr);
  bool cut_at_backlog(const Member& m) const;
  std::string payload(int sender, int number) const;
  std::string tag() const { return std::to_string(id_); }

  const ChatTargets& t_;
  Ledger& ledger_;
  Rng& rng_;
  long id_;
  std::vector<Member> members_;
  bool aborted_ = false;
};

}  // namespace soak
