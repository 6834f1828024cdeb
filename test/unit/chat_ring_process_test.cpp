// The chat ring across processes: one order for every reader, never
// corrupt bytes under concurrent writers, no lost wake-ups, and no harm from
// a writer that dies holding the lock.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/wait.hpp"
#include "chat_ring_check.hpp"
#include "wsserver/chat_ring.hpp"
#include "wsserver/fd.hpp"
#include "wsserver/signals.hpp"

using namespace std::chrono_literals;
using chat_check::parse_patterned;
using chat_check::patterned;
using chat_check::read_all;
using ws::ChatCursor;
using ws::ChatRing;

namespace ws {

// Reaches the ring's test hook.
class ChatRingTest {
 public:
  [[noreturn]] static void die_mid_publish(ChatRing& ring, size_t scribble_bytes) {
    ring.abandon_publish(scribble_bytes);
    raise(SIGKILL);
    _exit(1);  // not reached: SIGKILL cannot be caught
  }
  // Takes the lock and keeps it, alive, until killed; says so on `fd`.
  [[noreturn]] static void hold_lock(ChatRing& ring, int fd) {
    ring.abandon_publish(0);
    if (::write(fd, "x", 1) != 1) _exit(1);
    for (;;) pause();
  }
};

}  // namespace ws

namespace {

struct Pipe {
  ws::Fd read, write;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads from `fd` into `out` until `out` ends with `marker` or the deadline.
bool read_until(int fd, std::string& out, std::string_view marker, std::chrono::milliseconds timeout = 10s) {
  auto deadline = test::Clock::now() + timeout;
  while (!(out.size() >= marker.size() && out.compare(out.size() - marker.size(), marker.size(), marker) == 0)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - test::Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

// A forked child running `body` (its return value is the exit status). If
// the test ends before the child is reaped, the child is killed and reaped.
class Child {
 public:
  template <typename Body>
  explicit Child(Body body) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int status = 70;
      try {
        status = body();
      } catch (...) {
      }
      // _exit: the test runner's buffers and handlers belong to the parent.
      _exit(status);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  // The wait status once the child exits within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout = 10s) {
    int status = 0;
    if (!test::wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) return std::nullopt;
    pid_ = -1;
    return status;
  }
  bool exits_ok(std::chrono::milliseconds timeout = 10s) {
    auto status = wait(timeout);
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  }

 private:
  int pid_ = -1;
};

// The process state letter from /proc/PID/stat (S: sleeping in a wait).
char process_state(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// What a chat worker does with the wake signal: blocked always, caught with a
// recording handler, deliverable only inside ppoll.
sigset_t set_up_wake_signal() {
  ws::signals::clear_all();
  ws::signals::catch_signals({ChatRing::wake_signal});
  sigset_t wake = ws::signals::make_set({ChatRing::wake_signal});
  ws::signals::block(wake);
  return ws::signals::current_mask_without(wake);
}

bool wake_pending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, ChatRing::wake_signal) == 1;
}

}  // namespace

namespace {

// A reader process: reads `count` messages, sleeping on the ring between
// reads, then writes them one per line, a count of wake-ups it found lost
// (ppoll timed out with messages waiting and no wake pending), and END.
int reader_process(ChatRing& ring, int slot, int count, int out) {
  sigset_t mask = set_up_wake_signal();
  ring.attach(slot, getpid());
  ChatCursor cursor = ring.join();
  if (!write_all(out, "ready\n")) return 1;
  std::string log;
  int got = 0, lost = 0;
  bool suspect = false;
  while (got < count) {
    auto r = ring.read(cursor, 4096, [&](uint64_t, std::string_view m) {
      log.append(m);
      log += '\n';
      ++got;
    });
    if (r.status != ChatRing::ReadStatus::ok) {
      log += "OVERRUN\n";
      break;
    }
    if (suspect && r.messages > 0) ++lost;
    suspect = false;
    if (r.more || got >= count) continue;
    if (ring.prepare_wait(slot, cursor)) {
      timespec timeout{3, 0};
      int rc = ppoll(nullptr, 0, &timeout, &mask);
      ring.finish_wait(slot);
      suspect = rc == 0 && !wake_pending();
    }
    ws::signals::take(ChatRing::wake_signal);
  }
  log += "lost " + std::to_string(lost) + "\nEND\n";
  return write_all(out, log) ? 0 : 1;
}

}  // namespace

TEST_CASE("chat ring: readers in several processes see every writer's messages in one order") {
  constexpr int writers = 4, readers = 3, per_writer = 500, total = writers * per_writer;
  auto ring = *ChatRing::create(1 << 20);
  std::vector<Pipe> outs(readers);
  std::vector<std::unique_ptr<Child>> reader_children, writer_children;
  for (int r = 0; r < readers; ++r)
    reader_children.push_back(
        std::make_unique<Child>([&] { return reader_process(ring, r, total, outs[r].write.get()); }));
  std::vector<std::string> logs(readers);
  // Every reader joins before the first message, so each must see all of them.
  for (int r = 0; r < readers; ++r) REQUIRE(read_until(outs[r].read.get(), logs[r], "ready\n"));
  for (int w = 0; w < writers; ++w)
    writer_children.push_back(std::make_unique<Child>([&] {
      for (int i = 0; i < per_writer; ++i)
        ring.publish("writer " + std::to_string(w) + " message " + std::to_string(i), static_cast<uint64_t>(w));
      return 0;
    }));
  for (auto& child : writer_children) REQUIRE(child->exits_ok());
  for (int r = 0; r < readers; ++r) {
    logs[r].clear();
    REQUIRE(read_until(outs[r].read.get(), logs[r], "END\n"));
    REQUIRE(reader_children[r]->exits_ok());
  }

  std::vector<std::vector<std::string>> seen(readers);
  for (int r = 0; r < readers; ++r) {
    std::istringstream in(logs[r]);
    for (std::string line; std::getline(in, line) && line != "END";) {
      if (line.rfind("lost ", 0) == 0) {
        INFO("reader " << r);
        CHECK(line == "lost 0");
        continue;
      }
      seen[r].push_back(line);
    }
    INFO("reader " << r);
    REQUIRE(seen[r].size() == static_cast<size_t>(total));
    std::set<std::string> unique(seen[r].begin(), seen[r].end());
    CHECK(unique.size() == static_cast<size_t>(total));
    std::map<int, int> next;  // each writer's messages in the order it wrote them
    for (const auto& line : seen[r]) {
      int w = -1, i = -1;
      REQUIRE(std::sscanf(line.c_str(), "writer %d message %d", &w, &i) == 2);
      REQUIRE(i == next[w]);
      ++next[w];
    }
    CHECK(next.size() == static_cast<size_t>(writers));
  }
  CHECK(seen[1] == seen[0]);
  CHECK(seen[2] == seen[0]);
}

namespace {

// Counters the processes of one test share, in their own shared mapping.
struct Tally {
  std::atomic<long> delivered[2];
  std::atomic<bool> stop;
};

Tally* map_tally() {
  void* p = mmap(nullptr, sizeof(Tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
  return new (p) Tally{};
}

}  // namespace

TEST_CASE("chat ring: concurrent writers over a tiny ring never hand a reader corrupt bytes") {
  constexpr int writers = 2, readers = 2;
  constexpr long enough = 20000;  // messages each reader must check before the writers stop
  auto ring = *ChatRing::create(4096);
  Tally* tally = map_tally();
  std::unique_ptr<Tally, void (*)(Tally*)> unmap(tally, [](Tally* t) { munmap(t, sizeof(Tally)); });
  Pipe done;
  std::vector<Pipe> outs(readers);
  std::vector<std::unique_ptr<Child>> reader_children, writer_children;
  for (int r = 0; r < readers; ++r)
    reader_children.push_back(std::make_unique<Child>([&] {
      sigset_t mask = set_up_wake_signal();
      done.write.reset();
      ring.attach(r, getpid());
      ChatCursor cursor = ring.join();
      if (!write_all(outs[r].write.get(), "ready\n")) return 1;
      long bad = 0, overruns = 0;
      std::map<int, int> last;  // per writer: indices only ever rise
      bool finished = false;
      auto check = [&](uint64_t sender, std::string_view m) {
        int w = -1, i = -1;
        tally->delivered[r].fetch_add(1);
        if (!parse_patterned(m, w, i) || static_cast<uint64_t>(w) != sender) return void(++bad);
        if (last.count(w) && i <= last[w]) ++bad;
        last[w] = i;
      };
      for (;;) {
        auto result = ring.read(cursor, 512, check);
        if (result.status == ChatRing::ReadStatus::overrun) {
          ++overruns;
          cursor = ring.join();
          continue;
        }
        if (result.more) continue;
        if (finished) break;  // the writers are done and everything is read
        if (ring.prepare_wait(r, cursor)) {
          pollfd p{done.read.get(), POLLIN, 0};
          timespec timeout{5, 0};
          ppoll(&p, 1, &timeout, &mask);
          ring.finish_wait(r);
          finished = p.revents != 0;
        }
        ws::signals::take(ChatRing::wake_signal);
      }
      std::string report = std::to_string(bad) + " " + std::to_string(overruns) + "\nEND\n";
      return write_all(outs[r].write.get(), report) ? 0 : 1;
    }));
  std::vector<std::string> logs(readers);
  for (int r = 0; r < readers; ++r) REQUIRE(read_until(outs[r].read.get(), logs[r], "ready\n"));
  for (int w = 0; w < writers; ++w)
    writer_children.push_back(std::make_unique<Child>([&] {
      done.write.reset();
      for (int i = 0; !tally->stop.load(); ++i)
        ring.publish(patterned(w, i, static_cast<size_t>(i * 37 % 300)), static_cast<uint64_t>(w));
      return 0;
    }));
  bool read_enough = test::wait_until([&] {
    return tally->delivered[0].load() >= enough && tally->delivered[1].load() >= enough;
  }, 10s);
  tally->stop.store(true);
  REQUIRE(read_enough);
  for (auto& child : writer_children) REQUIRE(child->exits_ok());
  done.write.reset();  // the readers' cue to finish
  for (int r = 0; r < readers; ++r) {
    logs[r].clear();
    REQUIRE(read_until(outs[r].read.get(), logs[r], "END\n"));
    REQUIRE(reader_children[r]->exits_ok());
    long bad = -1, overruns = -1;
    std::istringstream(logs[r]) >> bad >> overruns;
    INFO("reader " << r << ": " << tally->delivered[r].load() << " delivered, " << overruns << " overruns");
    CHECK(bad == 0);
  }
}

TEST_CASE("chat ring: a reader asleep in ppoll is woken by another process's publish") {
  auto ring = *ChatRing::create(4096);
  Pipe out;
  Child reader([&] {
    sigset_t mask = set_up_wake_signal();
    ring.attach(3, getpid());
    ChatCursor cursor = ring.join();
    if (!ring.prepare_wait(3, cursor)) return 1;
    if (!write_all(out.write.get(), "sleeping\n")) return 1;
    timespec timeout{10, 0};
    int rc = ppoll(nullptr, 0, &timeout, &mask);
    bool interrupted = rc < 0 && errno == EINTR;
    ring.finish_wait(3);
    auto got = read_all(ring, cursor);
    std::string report = interrupted && got.size() == 1 ? "woken " + got[0].text : "not woken";
    return write_all(out.write.get(), report + "\n") ? 0 : 1;
  });
  std::string log;
  REQUIRE(read_until(out.read.get(), log, "sleeping\n"));
  // Sleeping means inside ppoll: the child has nothing else left to block in.
  REQUIRE(test::wait_until([&] { return process_state(reader.pid()) == 'S'; }));
  ring.publish("hello", 9);
  std::string report;
  REQUIRE(read_until(out.read.get(), report, "\n", 5s));
  CHECK(report == "woken hello\n");
  CHECK(reader.exits_ok());
}

TEST_CASE("chat ring: a wake sent between prepare_wait and ppoll is not lost") {
  auto ring = *ChatRing::create(4096);
  Pipe out, go;
  Child reader([&] {
    sigset_t mask = set_up_wake_signal();
    ring.attach(0, getpid());
    ChatCursor cursor = ring.join();
    if (!ring.prepare_wait(0, cursor)) return 1;
    if (!write_all(out.write.get(), "prepared\n")) return 1;
    // The publish happens now, before this process reaches ppoll.
    char c;
    if (::read(go.read.get(), &c, 1) != 1) return 1;
    timespec timeout{10, 0};
    int rc = ppoll(nullptr, 0, &timeout, &mask);
    bool interrupted = rc < 0 && errno == EINTR;
    ring.finish_wait(0);
    auto got = read_all(ring, cursor);
    std::string report = interrupted && got.size() == 1 ? "woken " + got[0].text : "not woken";
    return write_all(out.write.get(), report + "\n") ? 0 : 1;
  });
  std::string log;
  REQUIRE(read_until(out.read.get(), log, "prepared\n"));
  ring.publish("early", 9);
  REQUIRE(write_all(go.write.get(), "g"));
  std::string report;
  REQUIRE(read_until(out.read.get(), report, "\n", 5s));
  CHECK(report == "woken early\n");
  CHECK(reader.exits_ok());
}

TEST_CASE("chat ring: a writer that dies holding the lock stops nobody and corrupts nothing") {
  auto ring = *ChatRing::create(4096);
  ChatCursor behind = ring.join();  // never reads before the crash
  for (int i = 0; i < 10; ++i) ring.publish(patterned(0, i, 40 - patterned(0, i, 0).size()), 0);
  ChatCursor current = ring.join();

  // Dies mid-copy, having zeroed the ring from the end round to byte 192:
  // zeros read as empty 24-byte entries, and 192 is where one of them ends
  // and a real entry of `behind` begins, so only reserved_end can tell
  // `behind` that its unread entries are gone.
  REQUIRE(current.position == 640);
  Child crasher([&]() -> int { ws::ChatRingTest::die_mid_publish(ring, ring.capacity() + 192 - 640); });
  auto status = crasher.wait();
  REQUIRE(status);
  REQUIRE(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGKILL);

  // The next writer gets the lock (in a child, so a hang cannot hang the test).
  Child writer([&] { return ring.publish("after", 1) > 0 ? 0 : 1; });
  REQUIRE(writer.exits_ok(5s));
  ring.publish("and more", 2);

  ChatRing::ReadResult r;
  auto got = read_all(ring, current, &r);
  REQUIRE(r.status == ChatRing::ReadStatus::ok);
  REQUIRE(got.size() == 2);
  CHECK(got[0].text == "after");
  CHECK(got[0].sender == 1);
  CHECK(got[1].text == "and more");
  got = read_all(ring, behind, &r);
  CHECK(r.status == ChatRing::ReadStatus::overrun);
  CHECK(got.empty());
}

// The master publishes an operator's broadcast; a worker that holds the lock
// (stopped, or hostile) must not stop the master, which gives up instead.
TEST_CASE("chat ring: publish_within gives up on a lock a live process holds", "[bus]") {
  auto ring = *ChatRing::create(1 << 20);
  Pipe ready;
  Child holder([&]() -> int { ws::ChatRingTest::hold_lock(ring, ready.write.get()); });
  char c;
  pollfd p{ready.read.get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  REQUIRE(::read(ready.read.get(), &c, 1) == 1);
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(ring.publish_within("blocked", 0, 100));
  auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 90ms);
  CHECK(waited < 3s);
  kill(holder.pid(), SIGKILL);
  REQUIRE(holder.wait());
  // The holder died: the lock is taken over, and the message goes in.
  auto cursor = ring.join();
  REQUIRE(ring.publish_within("free again", 0, 1000));
  ChatRing::ReadResult r;
  auto got = read_all(ring, cursor, &r);
  REQUIRE(got.size() == 1);
  CHECK(got[0].text == "free again");
}
