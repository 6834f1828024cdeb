#include "wsserver/resp.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace ws {
namespace {

using Type = RespValue::Type;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The text allows one sign, either way; the digits must fit 64 bits.
bool parse_integer(std::string_view s, int64_t* out) {
  std::string_view digits = s.substr(s.starts_with('+') || s.starts_with('-') ? 1 : 0);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) return false;
  if (s.starts_with('+')) s.remove_prefix(1);
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return error == std::errc() && end == s.data() + s.size();
}

RespValue value_of(Type type, std::string text = {}) {
  RespValue value;
  value.type = type;
  value.text = std::move(text);
  return value;
}

void append_header(std::string& out, char type, std::string_view number) {
  out += type;
  out += number;
  out += "\r\n";
}

void append_bulk(std::string& out, std::string_view bytes) {
  append_header(out, '$', std::to_string(bytes.size()));
  out += bytes;
  out += "\r\n";
}

void append_value(std::string& out, const RespValue& value) {
  switch (value.type) {
    case Type::simple: return append_header(out, '+', value.text);
    case Type::error: return append_header(out, '-', value.text);
    case Type::integer: return append_header(out, ':', std::to_string(value.integer));
    case Type::bulk: return append_bulk(out, value.text);
    case Type::null_bulk: return append_header(out, '$', "-1");
    case Type::null_array: return append_header(out, '*', "-1");
    case Type::array: break;
  }
  append_header(out, '*', std::to_string(value.elements.size()));
  for (const RespValue& element : value.elements) append_value(out, element);
}

bool is_bulk(const RespValue& value) { return value.type == Type::bulk; }

bool is_bulk(const RespValue& value, std::string_view text) { return is_bulk(value) && value.text == text; }

// A push: an array of `size` whose first element names its kind.
bool is_push(const RespValue& value, std::string_view kind, size_t size) {
  return value.type == Type::array && value.elements.size() == size && is_bulk(value.elements[0], kind);
}

}  // namespace

size_t RespReader::feed(std::string_view bytes) {
  size_t used = 0;
  while (used < bytes.size() && status_ == Status::need_more) {
    if (state_ == State::bulk) used += take_bulk(bytes.substr(used));
    else take_byte(bytes[used++]);
  }
  return used;
}

RespValue RespReader::take() {
  if (status_ != Status::done) return {};
  status_ = Status::need_more;
  elements_ = 0;
  return std::move(value_);
}

void RespReader::fail(const char* why) {
  status_ = Status::bad;
  reason_ = why;
}

void RespReader::take_byte(char c) {
  switch (state_) {
    case State::type: return take_type(c);
    case State::line: return take_line(c);
    case State::line_lf: return c == '\n' ? end_line() : fail("line not ended by CRLF");
    case State::length: return take_length(c);
    case State::length_lf: return c == '\n' ? end_length() : fail("length not ended by CRLF");
    case State::bulk_cr: return c == '\r' ? void(state_ = State::bulk_lf) : fail("bulk string not ended by CRLF");
    case State::bulk_lf: return c == '\n' ? end_bulk() : fail("bulk string not ended by CRLF");
    case State::bulk: return;  // taken a run at a time by take_bulk()
  }
}

void RespReader::take_type(char c) {
  text_.clear();
  negative_ = false;
  digits_ = length_ = 0;
  state_ = State::line;
  switch (c) {
    case '+': kind_ = Type::simple; return;
    case '-': kind_ = Type::error; return;
    case ':': kind_ = Type::integer; return;
  }
  state_ = State::length;
  if (c == '$') kind_ = Type::bulk;
  else if (c == '*') kind_ = Type::array;
  else fail("unknown type byte");
}

// A lone CR or LF cannot be part of a line: the text forbids both in simple
// strings and errors, and a reader that let them pass would split a value
// where the server did not.
void RespReader::take_line(char c) {
  if (c == '\r') state_ = State::line_lf;
  else if (c == '\n') fail("line not ended by CRLF");
  else if (text_.size() == limits_.max_line) fail("line longer than the limit");
  else text_ += c;
}

// Digits are checked as they come, so a huge length is refused at its
// first digit past the limit, before any of its payload is awaited.
void RespReader::take_length(char c) {
  if (is_digit(c)) take_digit(static_cast<size_t>(c - '0'));
  else if (c == '-' && digits_ == 0 && !negative_) negative_ = true;
  else if (c == '\r' && digits_ > 0) state_ = State::length_lf;
  else fail("length not a number");
}

// Leading zeros are refused: Redis never sends them, and with them two
// spellings of one value would read the same. The limit is checked before
// the length grows, so no length can overflow.
void RespReader::take_digit(size_t digit) {
  bool leading_zero = digits_++ > 0 && length_ == 0;
  if (negative_) return digit == 1 && digits_ == 1 ? void(length_ = 1) : fail("negative length other than -1");
  if (leading_zero) return fail("length with a leading zero");
  size_t limit = length_limit();
  if (length_ > limit / 10 || limit - length_ * 10 < digit)
    return fail(kind_ == Type::bulk ? "bulk length over the limit" : "array length over the limit");
  length_ = length_ * 10 + digit;
}

size_t RespReader::length_limit() const {
  return kind_ == Type::bulk ? limits_.max_bulk : limits_.max_elements - elements_;
}

size_t RespReader::take_bulk(std::string_view bytes) {
  size_t n = std::min(bytes.size(), length_ - text_.size());
  text_.append(bytes.substr(0, n));
  if (text_.size() == length_) state_ = State::bulk_cr;
  return n;
}

void RespReader::end_line() {
  RespValue value = value_of(kind_);
  if (kind_ == Type::integer && !parse_integer(text_, &value.integer)) return fail("integer not a number");
  if (kind_ != Type::integer) value.text = std::move(text_);
  complete(std::move(value));
}

void RespReader::end_length() {
  if (negative_) return complete(value_of(kind_ == Type::bulk ? Type::null_bulk : Type::null_array));
  if (kind_ == Type::array) return open_array();
  state_ = length_ == 0 ? State::bulk_cr : State::bulk;
}

void RespReader::end_bulk() { complete(value_of(Type::bulk, std::move(text_))); }

// An empty array counts as a level too: the limit is on how deep the
// headers go, whatever follows them.
void RespReader::open_array() {
  if (open_.size() == limits_.max_depth) return fail("arrays nested deeper than the limit");
  elements_ += length_;
  if (length_ == 0) return complete(value_of(Type::array));
  open_.push_back({value_of(Type::array), length_});
  open_.back().array.elements.reserve(length_);
  state_ = State::type;
}

void RespReader::complete(RespValue value) {
  state_ = State::type;
  while (!open_.empty()) {
    Open& innermost = open_.back();
    innermost.array.elements.push_back(std::move(value));
    if (innermost.array.elements.size() < innermost.length) return;
    value = std::move(innermost.array);
    open_.pop_back();
  }
  value_ = std::move(value);
  status_ = Status::done;
}

std::string resp_command(std::span<const std::string_view> args) {
  std::string out;
  append_header(out, '*', std::to_string(args.size()));
  for (std::string_view arg : args) append_bulk(out, arg);
  return out;
}

std::string resp_command(std::initializer_list<std::string_view> args) {
  return resp_command(std::span<const std::string_view>(args.begin(), args.size()));
}

std::string resp_encode(const RespValue& value) {
  std::string out;
  append_value(out, value);
  return out;
}

std::optional<RespMessage> resp_message(const RespValue& value) {
  if (!is_push(value, "message", 3) || !is_bulk(value.elements[1]) || !is_bulk(value.elements[2]))
    return std::nullopt;
  return RespMessage{value.elements[1].text, value.elements[2].text};
}

std::optional<RespSubscribed> resp_subscribed(const RespValue& value) {
  if (!is_push(value, "subscribe", 3) || !is_bulk(value.elements[1]) || value.elements[2].type != Type::integer)
    return std::nullopt;
  return RespSubscribed{value.elements[1].text, value.elements[2].integer};
}

std::optional<std::string_view> resp_error(const RespValue& value) {
  if (value.type != Type::error) return std::nullopt;
  return std::string_view(value.text);
}

bool resp_is_pong(const RespValue& value) {
  if (value.type == Type::simple) return value.text == "PONG";
  return is_push(value, "pong", 2) && is_bulk(value.elements[1]);
}

}  // namespace ws
