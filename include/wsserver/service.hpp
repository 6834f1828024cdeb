// service.hpp: what a client's messages are answered with, the top layer of
// a connection (transport.hpp shows them all). The session frames the byte
// stream and handles commands, authentication and limits; a service only
// sees the bytes of each message and writes replies (replies.hpp), never
// knowing how the transport delimits them. A streaming
// service (strip, echo) gets a message in as many parts as it arrived, so a
// message of any length passes in bounded memory; a service that needs
// messages whole (chat) gets each one at once, at most max_message bytes.
// A service may also push output its client did not ask for (chat).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "wsserver/config.hpp"
#include "wsserver/replies.hpp"

namespace ws {

class ChatRing;
class WorkerSlot;

class Service {
 public:
  virtual ~Service() = default;
  // The next bytes of the current message (on a plain transport never a
  // terminator), and the reply's bytes so far.
  virtual void feed(std::string_view part, Replies& out) = 0;
  // The current message ended (at a terminator, at the end of a WebSocket
  // message, or at the client's close): the reply ends too.
  virtual void end(Replies& out) = 0;
  // True: the session passes each message whole, in one feed().
  virtual bool whole_messages() const { return false; }

  // Pushing services. A connection first calls join(); then, in its loop,
  // collect() appends pushed output (about `room` bytes at most) and says
  // whether more is waiting or the client fell too far behind; before it
  // sleeps it asks prepare_wait() (false: collect again, do not sleep) and
  // after the sleep calls finish_wait(). The wake-up is the signal below.
  enum class Collected { all, more, overrun };
  virtual bool pushes() const { return false; }
  virtual void join(uint64_t /*client_id*/) {}
  virtual Collected collect(Replies& /*out*/, size_t /*room*/) { return Collected::all; }
  virtual bool prepare_wait() { return true; }
  virtual void finish_wait() {}
};

// What building a service needs besides its kind.
struct ServiceContext {
  ChatRing* ring = nullptr;  // chat only
  int slot = -1;             // the worker's scoreboard slot (chat wake-ups)
  ChatRing* outbox = nullptr;  // chat with a chat bus: messages go here, not into `ring`
  WorkerSlot* counters = nullptr;  // that slot, to count chat messages; may be null
};

std::unique_ptr<Service> make_service(ServiceKind kind, const ServiceContext& context);
std::unique_ptr<Service> make_chat_service(const ServiceContext& context);

}  // namespace ws
