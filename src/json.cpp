#include "wsserver/json.hpp"

#include <cstdint>
#include <cstdio>

#include "wsserver/utf8.hpp"

namespace ws {
namespace {

void append_escape(std::string& out, unsigned code) {
  char buf[8];
  snprintf(buf, sizeof buf, "\\u%04x", code);
  out += buf;
}

void append_ascii(std::string& out, char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
  }
  if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) append_escape(out, static_cast<uint8_t>(c));
  else out += c;
}

// Line breaks to JavaScript, where JSON often ends up, escaped too.
void append_sequence(std::string& out, std::string_view sequence) {
  if (sequence == "\u2028") return append_escape(out, 0x2028);
  if (sequence == "\u2029") return append_escape(out, 0x2029);
  out.append(sequence);
}

}  // namespace

std::string json_string(std::string_view bytes) {
  std::string out = "\"";
  while (!bytes.empty()) {
    size_t n = utf8_char_length(bytes);
    if (n == 1) append_ascii(out, bytes[0]);
    else if (n == 0) out += "\\ufffd";
    else append_sequence(out, bytes.substr(0, n));
    bytes.remove_prefix(n ? n : 1);
  }
  return out + "\"";
}

}  // namespace ws
