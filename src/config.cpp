#include "wsserver/config.hpp"

#include <algorithm>
#include <cctype>

#include "wsserver/address.hpp"
#include "wsserver/bus.hpp"
#include "wsserver/cidr.hpp"

namespace ws {

std::string_view terminator_bytes(Terminator t) {
  switch (t) {
    case Terminator::lf: return {"\n", 1};
    case Terminator::crlf: return {"\r\n", 2};
    case Terminator::nul: break;
  }
  return {"\0", 1};
}

namespace {

bool fail(ConfigProblem* problem, std::string key, std::string message, std::string other_key = "") {
  if (problem) *problem = {std::move(key), std::move(message), std::move(other_key)};
  return false;
}

bool valid_cidrs(const std::vector<std::string>& list, const char* key, ConfigProblem* problem) {
  for (const auto& text : list) {
    std::string error;
    if (!parse_cidr(text, &error)) return fail(problem, key, error);
  }
  return true;
}

// As a browser sends it: scheme://host[:port], no path. Anything else
// could never match, which would refuse every browser without saying why.
bool valid_origin(const std::string& origin) {
  size_t sep = origin.find("://");
  if (sep == std::string::npos || sep == 0 || sep + 3 == origin.size()) return false;
  auto scheme_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'; };
  if (!std::all_of(origin.begin(), origin.begin() + static_cast<long>(sep), scheme_char)) return false;
  return std::none_of(origin.begin() + static_cast<long>(sep) + 3, origin.end(),
                      [](char c) { return c == '/' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

bool valid_origins(const std::vector<std::string>& list, ConfigProblem* problem) {
  for (const auto& origin : list)
    if (!valid_origin(origin))
      return fail(problem, "ws_origins", "\"" + origin + "\" is not an origin (scheme://host[:port], as browsers send it)");
  return true;
}

std::string absolute(const std::string& path, const std::string& cwd) {
  if (path.empty() || path[0] == '/' || path == "stderr" || path == "syslog") return path;
  return cwd + "/" + path;
}

// The endpoint is TCP only: a scraper comes over the network.
bool valid_metrics_listen(const std::string& text, ConfigProblem* problem) {
  if (text.empty()) return true;
  std::string error;
  auto address = parse_listen_address(text, &error);
  if (!address) return fail(problem, "metrics_listen", error);
  if (address->type != SocketType::tcp || address->transport.proxy || address->transport.websocket)
    return fail(problem, "metrics_listen", "HOST:PORT or PORT expected, not " + text);
  return true;
}

}  // namespace

bool validate(const Config& c, ConfigProblem* problem) {
  if (c.listen.empty()) return fail(problem, "listen", "at least one address is needed");
  bool has_udp = false;
  for (const auto& text : c.listen) {
    std::string error;
    auto address = parse_listen_address(text, &error);
    if (!address) return fail(problem, "listen", error);
    has_udp = has_udp || address->type == SocketType::udp;
  }
  if (has_udp && !c.auth_file.empty())
    return fail(problem, "auth_file", "authentication cannot be used with a udp: listener", "listen");
  if (has_udp && c.service == ServiceKind::chat)
    return fail(problem, "service", "chat needs stream listeners: a udp: listener has no connection to push to",
                "listen");
  if (c.workers > c.max_workers)
    return fail(problem, "workers",
                "workers (" + std::to_string(c.workers) + ") exceeds max_workers (" + std::to_string(c.max_workers) + ")",
                "max_workers");
  if (c.min_spare > c.max_spare)
    return fail(problem, "min_spare",
                "min_spare (" + std::to_string(c.min_spare) + ") exceeds max_spare (" + std::to_string(c.max_spare) + ")",
                "max_spare");
  if (!c.chat_bus.empty()) {
    std::string error;
    if (!parse_bus_url(c.chat_bus, &error)) return fail(problem, "chat_bus", error);
    if (c.service != ServiceKind::chat) return fail(problem, "chat_bus", "chat_bus needs service = chat", "service");
  }
  if (c.group.size() && c.user.empty()) return fail(problem, "group", "group needs user to be set too", "user");
  if (!valid_metrics_listen(c.metrics_listen, problem)) return false;
  return valid_cidrs(c.allow, "allow", problem) && valid_cidrs(c.deny, "deny", problem) &&
         valid_origins(c.ws_origins, problem) && valid_cidrs(c.proxy_from, "proxy_from", problem);
}

void resolve_paths(Config& c, bool as_root, const std::string& cwd) {
  if (c.pid_file.empty()) c.pid_file = as_root ? "/run/wsserver.pid" : "wsserver.pid";
  c.pid_file = absolute(c.pid_file, cwd);
  if (c.control_socket.empty()) {
    std::string base = c.pid_file;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".pid") == 0) base.resize(base.size() - 4);
    c.control_socket = base + ".sock";
  }
  c.control_socket = absolute(c.control_socket, cwd);
  c.log_file = absolute(c.log_file, cwd);
  c.access_log = absolute(c.access_log, cwd);
  c.auth_file = absolute(c.auth_file, cwd);
  c.ws_page = absolute(c.ws_page, cwd);
  for (auto& text : c.listen) {
    // The path comes after the unix: word, itself after any proxy: or ws:.
    size_t at = 0;
    for (std::string_view prefix : {"proxy:", "ws:"})
      if (text.compare(at, prefix.size(), prefix) == 0) at += prefix.size();
    if (text.compare(at, 5, "unix:") == 0 && text.size() > at + 5 && text[at + 5] != '/')
      text = text.substr(0, at + 5) + absolute(text.substr(at + 5), cwd);
  }
}

}  // namespace ws
