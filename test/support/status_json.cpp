#include "status_json.hpp"

#include <cstdlib>

#include "wsserver/control.hpp"

namespace test {
namespace {

// The raw text after "key": up to the next , or } (strings keep their quotes).
std::string raw_value(const std::string& object, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = object.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  if (object[at] == '"') return object.substr(at, object.find('"', at + 1) - at + 1);
  return object.substr(at, object.find_first_of(",}]", at) - at);
}

std::string string_value(const std::string& object, const std::string& key) {
  std::string raw = raw_value(object, key);
  return raw.size() >= 2 && raw.front() == '"' ? raw.substr(1, raw.size() - 2) : "";
}

}  // namespace

ServerStatus parse_status_json(const std::string& json) {
  ServerStatus s;
  s.pid = std::atoi(raw_value(json, "pid").c_str());
  s.generation = static_cast<unsigned>(std::atol(raw_value(json, "generation").c_str()));
  size_t list = json.find("\"listeners\":[");
  size_t list_end = json.find(']', list);
  for (size_t at = json.find('"', list + 13); list != std::string::npos && at < list_end; at = json.find('"', at + 1)) {
    size_t close = json.find('"', at + 1);
    s.listeners.push_back(json.substr(at + 1, close - at - 1));
    at = close;
  }
  size_t workers = json.find("\"workers\":[");
  size_t workers_end = json.find(']', workers);
  for (size_t at = json.find('{', workers); workers != std::string::npos && at < workers_end; at = json.find('{', at + 1)) {
    std::string object = json.substr(at, json.find('}', at) - at + 1);
    WorkerInfo w;
    w.pid = std::atoi(raw_value(object, "pid").c_str());
    w.state = string_value(object, "state");
    w.generation = static_cast<unsigned>(std::atol(raw_value(object, "generation").c_str()));
    w.client = string_value(object, "client");
    s.workers.push_back(w);
  }
  return s;
}

std::optional<ServerStatus> query_status(const std::string& control_socket) {
  std::string error;
  auto json = ws::query_control(control_socket, "status json", 2000, &error);
  if (!json || json->find("\"workers\":[") == std::string::npos) return std::nullopt;
  return parse_status_json(*json);
}

std::string control_socket_of(const std::string& pid_file) {
  std::string base = pid_file.size() > 4 && pid_file.ends_with(".pid") ? pid_file.substr(0, pid_file.size() - 4) : pid_file;
  return base + ".sock";
}

}  // namespace test
