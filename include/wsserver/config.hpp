// config.hpp: the Config struct (every key of SPEC section 5 with its
// default) and the checks that need more than one key or a parser.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsserver/log.hpp"

namespace ws {

enum class ServiceKind { strip, echo, chat };
enum class Terminator { nul, lf, crlf };
enum class Overflow { queue, reject };
enum class AccessLogFormat { text, json };

// The words of each enumerated key, in one table each: the command line,
// the config file, --help and the logs all take them from here.
template <typename E>
struct Word {
  const char* text;
  E value;
};
inline constexpr std::array service_words{Word<ServiceKind>{"strip", ServiceKind::strip},
                                          Word<ServiceKind>{"echo", ServiceKind::echo},
                                          Word<ServiceKind>{"chat", ServiceKind::chat}};
inline constexpr std::array terminator_words{Word<Terminator>{"nul", Terminator::nul}, Word<Terminator>{"lf", Terminator::lf},
                                             Word<Terminator>{"crlf", Terminator::crlf}};
inline constexpr std::array overflow_words{Word<Overflow>{"queue", Overflow::queue},
                                           Word<Overflow>{"reject", Overflow::reject}};
inline constexpr std::array access_log_format_words{Word<AccessLogFormat>{"text", AccessLogFormat::text},
                                                    Word<AccessLogFormat>{"json", AccessLogFormat::json}};
inline constexpr std::array log_level_words{Word<log::Level>{"error", log::Level::error},
                                            Word<log::Level>{"warn", log::Level::warn},
                                            Word<log::Level>{"info", log::Level::info},
                                            Word<log::Level>{"debug", log::Level::debug}};

template <typename E, size_t N>
const char* word_of(const std::array<Word<E>, N>& words, E value) {
  for (const auto& w : words)
    if (w.value == value) return w.text;
  return words[0].text;
}

template <typename E, size_t N>
std::optional<E> value_of(const std::array<Word<E>, N>& words, std::string_view text) {
  for (const auto& w : words)
    if (std::string_view(w.text) == text) return w.value;
  return std::nullopt;
}

// The largest pool the scoreboard is sized for.
inline constexpr int max_workers_limit = 4096;

struct Config {
  std::vector<std::string> listen{"9000"};
  int backlog = 511;
  ServiceKind service = ServiceKind::strip;
  Terminator reply_terminator = Terminator::nul;
  int workers = 5;
  int min_spare = 5;
  int max_spare = 10;
  int max_workers = 256;
  Overflow overflow = Overflow::queue;
  long long max_requests = 0;
  int idle_timeout = 60;
  int graceful_timeout = 30;
  long long max_message = 65536;
  long long chat_backlog = 1048576;
  std::string chat_bus;  // redis://HOST:PORT[/CHANNEL]; empty: chat stays within this instance
  std::string auth_file;
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  int max_per_ip = 0;
  // Where a PROXY header is believed from, on proxy: listeners (SPEC 9);
  // unix sockets are always trusted.
  std::vector<std::string> proxy_from{"127.0.0.0/8", "::1/128"};
  int auth_timeout = 10;         // seconds to authenticate (0 = no limit)
  long long min_rate = 1024;     // bytes/s a message slower than idle_timeout must keep up (0 = none)
  int auth_max_failures = 10;    // failed AUTHs per minute per address before it is refused (0 = no limit)
  std::string user;
  std::string group;
  std::string pid_file;
  std::string control_socket;
  std::string log_file;  // empty: stderr, or syslog when daemonized
  log::Level log_level = log::Level::info;
  std::string access_log;
  AccessLogFormat access_log_format = AccessLogFormat::text;
  std::string metrics_listen;  // HOST:PORT of the metrics endpoint; empty: none
  unsigned unix_mode = 0660;  // of unix: listener sockets; written in octal
  std::string unix_group;     // of unix: listener sockets; empty: the workers' group
  std::vector<std::string> ws_origins;  // Origins a ws: handshake may come from; empty: any
  std::string ws_page;                  // the page GET / answers on ws: listeners; empty: the built-in one
};

// The bytes that end every reply and notice.
std::string_view terminator_bytes(Terminator t);
inline const char* service_name(ServiceKind s) { return word_of(service_words, s); }

// A failed check: the key it concerns and why. A check between two keys
// (workers and max_workers) names the other one too, so that the error can
// point at whichever of them was set.
struct ConfigProblem {
  std::string key;
  std::string message;
  std::string other_key;
};

// Checks what single-option validators cannot: relations between keys and
// the syntax of listen addresses and CIDR lists. Returns the first problem.
bool validate(const Config& config, ConfigProblem* problem);

// Fills defaults that depend on the environment (pid file as root, control
// socket beside the pid file) and makes relative paths absolute, so that a
// daemon that changes to / still finds its files.
void resolve_paths(Config& config, bool as_root, const std::string& cwd);

}  // namespace ws
