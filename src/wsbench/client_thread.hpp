// client_thread.hpp: one thread driving a group of connections with epoll.
// Each connection runs the mode's loop (pingpong: send, await the reply,
// repeat; connrate: connect, send, await, close, repeat; bulk: stream while
// reading; hold: connect, send, await, stay open) until the run hands out no
// more work, then closes; in hold mode only once every connection of the run
// has its reply or has failed.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <vector>

#include "exchange.hpp"
#include "options.hpp"
#include "tally.hpp"
#include "target.hpp"
#include "wsserver/fd.hpp"

namespace wsbench {

// What every thread of a run shares.
struct Shared {
  const Options* options = nullptr;
  const Target* target = nullptr;
  const std::vector<Message>* messages = nullptr;
  std::atomic<long long> tickets{0};  // messages (connrate: connections) left to start
  int64_t stop_new_ns = 0;            // no message starts after this (--duration)
  int64_t deadline_ns = 0;            // everything stops here (--deadline)
  std::atomic<long long> settled{0};  // hold: connections answered or failed, all threads
  long long connections = 0;          // hold: connections in the run
};

// Asks every thread to start nothing new and finish; async-signal-safe.
void request_stop();
bool stop_requested();

class ClientThread {
 public:
  ClientThread(Shared& shared, std::vector<size_t> connection_ids);
  // Runs to the end; false (with *error) if the thread could not even start.
  bool run(std::string* error);
  const Tally& tally() const { return tally_; }
  // Read by the progress line while the thread runs.
  std::atomic<uint64_t> live_completed{0}, live_errors{0};

 private:
  struct Conn {
    size_t id = 0;
    ws::Fd fd;
    bool connecting = false;
    bool in_flight = false;  // a message is out whose reply is not complete
    bool finished = false;
    bool held = false;       // hold: answered and kept open
    uint32_t events = 0;     // registered with epoll; 0 = not registered
    int64_t started_ns = 0;
    uint64_t next_message = 0;
    uint64_t messages_done = 0;
    Exchange exchange;
  };

  bool take_ticket();
  void next(Conn& c);
  bool open(Conn& c);
  bool upgrade(Conn& c);
  void send_message(Conn& c);
  void pump_send(Conn& c);
  void on_connect_error(Conn& c);
  void on_readable(Conn& c);
  void on_event(Conn& c, uint32_t events);
  void complete(Conn& c);
  void fail(Conn& c, Failure failure, const std::string& what);
  void finish(Conn& c);
  void watch(Conn& c, uint32_t events);
  void abandon_all();
  void publish();
  void hold(Conn& c);
  void on_held_event(Conn& c);
  bool holding() const;

  Shared& shared_;
  const Options& options_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> runnable_;  // ready for their next message, handled after each wait
  size_t active_ = 0;
  ws::Fd epoll_;
  std::unique_ptr<char[]> buffer_;
  Tally tally_;
};

}  // namespace wsbench
