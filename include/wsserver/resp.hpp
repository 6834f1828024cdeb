// resp.hpp: Redis's wire protocol, RESP2, as much as a pub/sub client needs
// (SPEC section 11): commands written out as arrays of bulk strings, and
// replies read as their bytes arrive, in any split, one value at a time,
// within limits fixed at construction, so a broken or hostile server cannot
// make the reader hold more than they allow.
//
// Reading a socket:
//   while bytes remain: n = feed(bytes); drop n bytes; if done, take() the
//   value; if bad, log reason() and close the connection.
// feed() stops at the end of each value, so one read may hold many.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ws {

struct RespValue {
  enum class Type { simple, error, integer, bulk, null_bulk, array, null_array };
  Type type = Type::null_bulk;
  std::string text;  // simple, error, bulk: the bytes between the header and the CRLF
  int64_t integer = 0;
  std::vector<RespValue> elements;  // array

  bool operator==(const RespValue&) const = default;
};

// What one value may hold. Together they bound the reader's memory: at most
// max_elements + 1 values, each text no longer than max_bulk or max_line.
struct RespLimits {
  size_t max_bulk = 1 << 20;  // longest bulk string
  size_t max_line = 4096;     // longest simple string, error or integer
  size_t max_elements = 64;   // elements in one value, nested arrays' counted
  size_t max_depth = 4;       // arrays within arrays, the outermost counted
};

class RespReader {
 public:
  enum class Status { need_more, done, bad };

  explicit RespReader(const RespLimits& limits = {}) : limits_(limits) {}

  // Takes bytes that follow those fed before; returns how many it took:
  // all of them while need_more, up to the end of the value when done.
  // Takes nothing while done (until take()) or once bad.
  size_t feed(std::string_view bytes);

  Status status() const { return status_; }
  // When done: the value, after which the reader waits for the next one.
  RespValue take();
  // When bad: why, in a few words, for the log. The stream cannot be
  // resynchronised: the connection is to be closed.
  std::string_view reason() const { return reason_; }

 private:
  enum class State { type, line, line_lf, length, length_lf, bulk, bulk_cr, bulk_lf };
  struct Open {
    RespValue array;
    size_t length = 0;
  };

  void take_byte(char c);
  void take_type(char c);
  void take_line(char c);
  void take_length(char c);
  void take_digit(size_t digit);
  size_t take_bulk(std::string_view bytes);
  size_t length_limit() const;
  void end_line();
  void end_length();
  void end_bulk();
  void open_array();
  void complete(RespValue value);
  void fail(const char* why);

  RespLimits limits_;
  Status status_ = Status::need_more;
  const char* reason_ = "";
  State state_ = State::type;
  RespValue::Type kind_ = RespValue::Type::null_bulk;  // of the value being read
  std::string text_;        // a line or bulk string so far
  bool negative_ = false;   // a length: its sign, digits and value so far
  size_t digits_ = 0;
  size_t length_ = 0;
  size_t elements_ = 0;     // declared in the current value so far
  std::vector<Open> open_;  // arrays still missing elements, outermost first
  RespValue value_;         // when done
};

// A command as Redis wants it: an array of bulk strings, binary-safe.
// resp_command({"PUBLISH", channel, payload}), resp_command({"PING"}).
std::string resp_command(std::span<const std::string_view> args);
std::string resp_command(std::initializer_list<std::string_view> args);

// Any value written out. A simple string or error must hold no CR or LF;
// RespReader never yields one that does.
std::string resp_encode(const RespValue& value);

// Pushes on a subscribed connection. The views point into the value.
// ["message", channel, payload]
struct RespMessage {
  std::string_view channel, payload;
};
std::optional<RespMessage> resp_message(const RespValue& value);

// ["subscribe", channel, count]: the subscription stands; count is how many
// this connection now holds.
struct RespSubscribed {
  std::string_view channel;
  int64_t count = 0;
};
std::optional<RespSubscribed> resp_subscribed(const RespValue& value);

// An error reply ("-ERR ..."): its text.
std::optional<std::string_view> resp_error(const RespValue& value);

// PING's reply: +PONG, or ["pong", ""] on a subscribed connection.
bool resp_is_pong(const RespValue& value);

}  // namespace ws
