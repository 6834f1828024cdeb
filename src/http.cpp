#include "wsserver/http.hpp"

#include <algorithm>

namespace ws {
namespace {

constexpr std::string_view whitespace = " \t";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 section 5.6.2's tchar.
bool is_token(std::string_view s) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'z') || specials.find(c) != specials.npos;
  });
}

// field-value: visible characters, obs-text, spaces and tabs.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return b == '\t' || (b >= 0x20 && b != 0x7f);
  });
}

// origin-form only: what a browser and a Prometheus scraper send.
bool is_target(std::string_view s) {
  return !s.empty() && s[0] == '/' && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string_view trim(std::string_view s) {
  size_t first = s.find_first_not_of(whitespace);
  if (first == s.npos) return {};
  return s.substr(first, s.find_last_not_of(whitespace) - first + 1);
}

// Whether a comma-separated list (RFC 9110 section 5.6.1) holds `token`.
bool lists(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (ascii_iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == list.npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void parse_request_line(std::string_view line, HttpRequest& r) {
  size_t first = line.find(' '), second = line.find(' ', first + 1);
  if (first == line.npos || second == line.npos || line.find(' ', second + 1) != line.npos) {
    r.malformed = "request line not three fields";
    return;
  }
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, second - first - 1);
  r.version = line.substr(second + 1);
  if (!is_token(r.method)) r.malformed = "bad method";
  else if (!is_target(r.target)) r.malformed = "bad request target";
  else if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") r.malformed = "not HTTP/1.0 or HTTP/1.1";
}

void parse_header_line(std::string_view line, HttpRequest& r) {
  size_t colon = line.find(':');
  if (colon == line.npos) r.malformed = "header line without a colon";
  else if (!is_token(line.substr(0, colon))) r.malformed = "bad header name";
  else if (!is_field_value(line.substr(colon + 1))) r.malformed = "control byte in a header value";
  else r.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
}

}  // namespace

bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

size_t HttpRequest::count(std::string_view name) const {
  return std::count_if(headers.begin(), headers.end(), [&](auto& h) { return ascii_iequals(h.first, name); });
}

std::string_view HttpRequest::value(std::string_view name) const {
  for (auto& h : headers)
    if (ascii_iequals(h.first, name)) return h.second;
  return {};
}

bool HttpRequest::any_lists(std::string_view name, std::string_view token) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](auto& h) { return ascii_iequals(h.first, name) && lists(h.second, token); });
}

bool HttpRequest::has_body() const {
  for (auto& h : headers)
    if (ascii_iequals(h.first, "content-length") && h.second.find_first_not_of('0') != h.second.npos) return true;
  return count("transfer-encoding") > 0;
}

// Each line without its LF and the CR before it, the blank line excluded.
HttpRequest parse_http_head(std::string_view head) {
  HttpRequest r;
  bool first = true;
  while (!r.malformed) {
    size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() && !first) break;
    if (first) parse_request_line(line, r);
    else parse_header_line(line, r);
    first = false;
    if (lf == head.npos) break;
    head.remove_prefix(lf + 1);
  }
  return r;
}

size_t HttpHeadReader::feed(std::string_view bytes) {
  size_t used = 0;
  while (used < bytes.size() && state_ == State::more) take(bytes[used++]);
  return used;
}

void HttpHeadReader::take(char c) {
  head_ += c;
  if (c == '\n') {
    std::string_view line = std::string_view(head_).substr(line_start_);
    line_start_ = head_.size();
    if (line == "\n" || line == "\r\n") {
      state_ = State::complete;
      return;
    }
  }
  if (head_.size() >= max_request_head) state_ = State::too_large;
}

}  // namespace ws
