#include "wsserver/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "wsserver/exit_codes.hpp"
#include "wsserver/version.hpp"

#ifndef WSSERVER_CONFIG_PATH
#define WSSERVER_CONFIG_PATH "/usr/local/etc/wsserver.conf"
#endif

namespace ws {
namespace {

// A config-file problem found before CLI11 applies the values.
struct FileProblem : CLI::ConfigError {
  FileProblem(int line, std::string key, const std::string& message)
      : CLI::ConfigError(message), line(line), key(std::move(key)) {}
  int line;
  std::string key;
};

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// CLI11 reads an unclosed quote or list as plain text ("abc becomes a file
// named with its quote); a value must be a bare word, one quoted string, or
// a list of them in brackets. Like CLI11, a # ends the value.
std::optional<std::string> value_syntax_error(std::string_view value) {
  value = trim(value.substr(0, value.find('#')));
  auto quoted = [](std::string_view v) {
    return v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front() &&
           v.substr(1, v.size() - 2).find(v.front()) == std::string_view::npos;
  };
  auto bare = [](std::string_view v) { return v.find_first_of("\"'[],") == std::string_view::npos; };
  if (value.empty() || quoted(value)) return std::nullopt;
  if (value.front() == '"' || value.front() == '\'') return "unclosed or doubled quotes";
  if (value.front() != '[') return bare(value) ? std::nullopt : std::optional<std::string>("quotes or brackets inside a bare value");
  if (value.back() != ']') return "a list must end with ] on the same line";
  std::string_view items = trim(value.substr(1, value.size() - 2));
  while (!items.empty()) {
    size_t comma = items.find(',');
    // A comma inside a quoted item belongs to it.
    if (items.front() == '"' || items.front() == '\'') {
      size_t close = items.find(items.front(), 1);
      comma = close == std::string_view::npos ? close : items.find(',', close);
    }
    std::string_view item = trim(items.substr(0, comma));
    if (item.empty() || !(quoted(item) || bare(item))) return "a list holds quoted strings separated by commas";
    if (comma == std::string_view::npos) break;
    items = trim(items.substr(comma + 1));
    if (items.empty()) return "a list must not end with a comma";
  }
  return std::nullopt;
}

// CLI11's TOML reader, fed one line at a time so that every key's line is
// known for error messages. It also rejects what CLI11 would silently ignore
// or misread here: lines without '=', sections, dotted or repeated keys.
class LineTrackingConfig : public CLI::ConfigTOML {
 public:
  explicit LineTrackingConfig(const CLI::App* app) : app_(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    lines.clear();
    std::vector<CLI::ConfigItem> items;
    std::string text;
    for (int n = 1; std::getline(input, text); ++n) {
      std::string_view line = trim(text);
      if (line.empty() || line[0] == '#' || line[0] == ';') continue;
      if (line[0] == '[') throw FileProblem(n, "", "sections are not supported: write key = value");
      if (line.find('=') == std::string_view::npos) throw FileProblem(n, "", "expected key = value");
      // Values become paths, names and addresses for C calls, which would
      // stop at a NUL and use a shorter one than the file shows.
      if (line.find('\0') != std::string_view::npos) throw FileProblem(n, "", "a NUL byte in the line");
      std::string_view key = trim(line.substr(0, line.find('=')));
      if (auto why = value_syntax_error(line.substr(line.find('=') + 1)))
        throw FileProblem(n, std::string(key), *why);
      std::istringstream one(text);
      for (auto& item : CLI::ConfigTOML::from_config(one)) add(items, std::move(item), n);
    }
    return items;
  }

  mutable std::map<std::string, int> lines;

 private:
  void add(std::vector<CLI::ConfigItem>& items, CLI::ConfigItem item, int n) const {
    std::string key = item.fullname();
    const CLI::Option* option = app_->get_option_no_throw("--" + key);
    if (!item.parents.empty() || option == nullptr || !option->get_configurable())
      throw FileProblem(n, key, "unknown key");
    if (auto seen = lines.find(key); seen != lines.end())
      throw FileProblem(n, key, "given twice (first on line " + std::to_string(seen->second) + ")");
    lines[key] = n;
    // An empty list reaches CLI11 as one empty value; empties are dropped later.
    if (item.inputs.empty()) item.inputs.emplace_back();
    items.push_back(std::move(item));
  }

  const CLI::App* app_;
};

// Enumerated keys are read as words and mapped after parsing, for clearer
// errors than CLI11's transformers give. Each starts as its Config default.
struct Words {
  explicit Words(const Config& c)
      : service(word_of(service_words, c.service)),
        reply_terminator(word_of(terminator_words, c.reply_terminator)),
        overflow(word_of(overflow_words, c.overflow)),
        log_level(word_of(log_level_words, c.log_level)),
        access_log_format(word_of(access_log_format_words, c.access_log_format)) {}
  std::string service, reply_terminator, overflow, log_level, access_log_format;
  std::string unix_mode = "0660";
};

// "a, b or c" and the check that a value is one of them, from a word table.
template <typename E, size_t N>
CLI::Option* add_word_option(CLI::App& app, const std::string& flag, std::string& word,
                             const std::array<Word<E>, N>& words) {
  std::vector<std::string> texts;
  for (const auto& w : words) texts.emplace_back(w.text);
  std::string help = texts.front();
  for (size_t i = 1; i < texts.size(); ++i) help += (i + 1 == texts.size() ? " or " : ", ") + texts[i];
  return app.add_option(flag, word, help)->check(CLI::IsMember(texts))->capture_default_str();
}

// A permission mode as chmod takes it: octal digits, nothing above 0777.
std::string check_octal_mode(const std::string& text) {
  bool octal = !text.empty() && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
  if (!octal || std::stoul(text, nullptr, 8) > 0777) return "an octal mode from 0000 to 0777 is expected, not " + text;
  return "";
}

void add_config_options(CLI::App& app, Config& c, Words& w) {
  auto any_count = CLI::detail::expected_max_vector_size;
  app.add_option("--listen", c.listen, "Listen addresses")->expected(1, any_count)->capture_default_str();
  app.add_option("--backlog", c.backlog, "Listen backlog")->check(CLI::Range(1, 65535))->capture_default_str();
  add_word_option(app, "--service", w.service, service_words);
  add_word_option(app, "--reply_terminator", w.reply_terminator, terminator_words);
  app.add_option("--workers", c.workers, "Workers at start")->check(CLI::Range(1, max_workers_limit))->capture_default_str();
  app.add_option("--min_spare", c.min_spare, "Idle workers kept at least")->check(CLI::Range(0, max_workers_limit))->capture_default_str();
  app.add_option("--max_spare", c.max_spare, "Idle workers kept at most")->check(CLI::Range(1, max_workers_limit))->capture_default_str();
  app.add_option("--max_workers", c.max_workers, "Most clients at once")->check(CLI::Range(1, max_workers_limit))->capture_default_str();
  add_word_option(app, "--overflow", w.overflow, overflow_words);
  app.add_option("--max_requests", c.max_requests, "Clients per worker (0 = no limit)")
      ->check(CLI::Range(0LL, 1LL << 40))->capture_default_str();
  app.add_option("--idle_timeout", c.idle_timeout, "Seconds of client silence (0 = never)")
      ->check(CLI::Range(0, 31536000))->capture_default_str();
  app.add_option("--graceful_timeout", c.graceful_timeout, "Seconds a stop waits for busy workers")
      ->check(CLI::Range(0, 31536000))->capture_default_str();
  app.add_option("--max_message", c.max_message, "Longest chat message or command")
      ->check(CLI::Range(1LL, 1LL << 30))->capture_default_str();
  app.add_option("--chat_backlog", c.chat_backlog, "Bytes queued for one slow chat client")
      ->check(CLI::Range(1LL, 1LL << 30))->capture_default_str();
  app.add_option("--chat_bus", c.chat_bus, "Chat across hosts: redis://HOST:PORT[/CHANNEL]");
  app.add_option("--auth_file", c.auth_file, "File holding the shared secret");
  app.add_option("--allow", c.allow, "Client CIDR allow list")->expected(1, any_count);
  app.add_option("--deny", c.deny, "Client CIDR deny list")->expected(1, any_count);
  app.add_option("--proxy_from", c.proxy_from, "Where PROXY headers are believed from (CIDR list)")
      ->expected(1, any_count)->capture_default_str();
  app.add_option("--max_per_ip", c.max_per_ip, "Most connections from one address (0 = no limit)")
      ->check(CLI::Range(0, 1 << 30))->capture_default_str();
  app.add_option("--auth_timeout", c.auth_timeout, "Seconds to authenticate (0 = no limit)")
      ->check(CLI::Range(0, 31536000))->capture_default_str();
  app.add_option("--min_rate", c.min_rate, "Bytes/s a message lasting over idle_timeout must average (0 = any)")
      ->check(CLI::Range(0LL, 1LL << 40))->capture_default_str();
  app.add_option("--auth_max_failures", c.auth_max_failures, "Failed AUTHs per minute per address (0 = no limit)")
      ->check(CLI::Range(0, 1 << 30))->capture_default_str();
  app.add_option("--user", c.user, "Workers' user");
  app.add_option("--group", c.group, "Workers' group");
  app.add_option("--pid_file", c.pid_file, "Pid file");
  app.add_option("--control_socket", c.control_socket, "Status socket");
  app.add_option("--log_file", c.log_file, "A path, stderr or syslog");
  add_word_option(app, "--log_level", w.log_level, log_level_words);
  app.add_option("--access_log", c.access_log, "Access log: a path, stderr or syslog");
  add_word_option(app, "--access_log_format", w.access_log_format, access_log_format_words);
  app.add_option("--metrics_listen", c.metrics_listen, "HOST:PORT of the Prometheus metrics endpoint");
  app.add_option("--unix_mode", w.unix_mode, "Mode of unix: listener sockets (octal)")
      ->check(CLI::Validator(check_octal_mode, "MODE"))->capture_default_str();
  app.add_option("--unix_group", c.unix_group, "Group of unix: listener sockets");
  app.add_option("--ws_origins", c.ws_origins, "Origins allowed on ws: listeners (empty = any)")->expected(1, any_count);
  app.add_option("--ws_page", c.ws_page, "Page served on GET / of ws: listeners (default: the built-in chat page)");
}

void apply_words(const Words& w, Config& c) {
  // CLI11 has checked each word against its table.
  c.service = *value_of(service_words, w.service);
  c.reply_terminator = *value_of(terminator_words, w.reply_terminator);
  c.overflow = *value_of(overflow_words, w.overflow);
  c.log_level = *value_of(log_level_words, w.log_level);
  c.access_log_format = *value_of(access_log_format_words, w.access_log_format);
  c.unix_mode = static_cast<unsigned>(std::stoul(w.unix_mode, nullptr, 8));
  for (auto* list : {&c.listen, &c.allow, &c.deny, &c.ws_origins, &c.proxy_from})
    list->erase(std::remove(list->begin(), list->end(), std::string()), list->end());
}

bool on_command_line(const std::vector<std::string>& args, const std::string& key) {
  std::string flag = "--" + key;
  return std::any_of(args.begin(), args.end(),
                     [&](const std::string& a) { return a == flag || a.rfind(flag + "=", 0) == 0; });
}

CliOutcome stop(int code, std::string message) {
  CliOutcome out;
  out.exit_code = code;
  out.message = std::move(message);
  return out;
}

// Names where a problem with `key` comes from: the option, or the file line.
CliOutcome key_error(const std::vector<std::string>& args, const std::string& file, const LineTrackingConfig& lines,
                     const std::string& key, const std::string& why) {
  auto line = lines.lines.find(key);
  if (on_command_line(args, key) || line == lines.lines.end())
    return stop(exit_code::usage, "command line: --" + key + ": " + why);
  return stop(exit_code::config, file + ":" + std::to_string(line->second) + ": " + key + ": " + why);
}

// A check between two keys blames the one that was set, on the command line
// or in the file: a default is nobody's mistake. (max_workers = 2 in a file,
// with workers at its default 5, is an error in that file, not a bad
// command line.)
std::string blamed_key(const std::vector<std::string>& args, const LineTrackingConfig& lines,
                       const ConfigProblem& problem) {
  auto given = [&](const std::string& key) { return on_command_line(args, key) || lines.lines.count(key) > 0; };
  if (!given(problem.key) && !problem.other_key.empty() && given(problem.other_key)) return problem.other_key;
  return problem.key;
}

// CLI11 messages start with "--key: "; splits them into key and reason.
bool split_option_message(const std::string& what, std::string* key, std::string* why) {
  if (what.rfind("--", 0) != 0) return false;
  size_t colon = what.find(": ");
  if (colon == std::string::npos) return false;
  *key = what.substr(2, colon - 2);
  *why = what.substr(colon + 2);
  return true;
}

// TEXT goes with -s broadcast and nothing else; it travels as one line.
std::optional<std::string> broadcast_problem(const Options& o, bool has_text) {
  bool broadcast = o.signal_action == "broadcast";
  if (broadcast && !has_text) return "-s broadcast needs the TEXT to send";
  if (!broadcast && has_text) return "unexpected argument " + o.broadcast_text + " (TEXT goes with -s broadcast)";
  if (o.broadcast_text.find('\n') != std::string::npos) return "the broadcast TEXT must be one line (no newline)";
  if (static_cast<long long>(o.broadcast_text.size()) > o.config.max_message)
    return "the broadcast TEXT is longer than max_message (" + std::to_string(o.config.max_message) + " bytes)";
  return std::nullopt;
}

}  // namespace

const char* default_config_path() { return WSSERVER_CONFIG_PATH; }

std::vector<std::string> with_absolute_config(std::vector<std::string> args, const std::string& cwd) {
  auto absolute = [&](const std::string& path) {
    return path.empty() || path[0] == '/' ? path : (cwd == "/" ? "" : cwd) + "/" + path;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string& a = args[i];
    // -c may end a cluster of short flags: -dc FILE, -tcFILE.
    size_t c = a.size() > 1 && a[0] == '-' && a[1] != '-' ? a.find_first_not_of("dtVh", 1) : std::string::npos;
    bool short_c = c != std::string::npos && a[c] == 'c';
    if (a.rfind("--config=", 0) == 0) a = "--config=" + absolute(a.substr(9));
    else if ((a == "--config" || (short_c && c + 1 == a.size())) && i + 1 < args.size()) args[i + 1] = absolute(args[i + 1]), ++i;
    else if (short_c && c + 1 < a.size()) a = a.substr(0, c + 1) + absolute(a.substr(c + 1));
  }
  return args;
}

std::string log_target(const Options& o) {
  if (!o.config.log_file.empty()) return o.config.log_file;
  return o.daemon ? "syslog" : "stderr";
}

CliOutcome parse_command_line(const std::vector<std::string>& args, const std::string& cwd, bool as_root) {
  CLI::App app{"wsserver: a pre-forking socket server daemon", "wsserver"};
  auto lines = std::make_shared<LineTrackingConfig>(&app);
  app.config_formatter(lines);
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.get_formatter()->column_width(30);

  Options o;
  Words words(o.config);
  CLI::Option* config_option = app.set_config("-c,--config", default_config_path(), "Config file");
  app.add_flag("-d,--daemon", o.daemon, "Detach as a classic daemon")->configurable(false);
  app.add_flag("-t,--test-config", o.test_config, "Check the config and exit")->configurable(false);
  app.add_option("-s,--signal", o.signal_action,
                 "Act on the running master: stop, quit, reload, reopen, status, upgrade, broadcast")
      ->check(CLI::IsMember({"stop", "quit", "reload", "reopen", "status", "upgrade", "broadcast"}))
      ->configurable(false);
  CLI::Option* text_option =
      app.add_option("text", o.broadcast_text, "With -s broadcast: the text every chat client gets")->configurable(false);
  app.add_flag("--json", o.json, "With -s status: one JSON object")->configurable(false);
  app.set_version_flag("-V,--version", std::string("wsserver ") + version);
  add_config_options(app, o.config, words);

  std::vector<const char*> argv{"wsserver"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::string file;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    return stop(exit_code::ok, app.help());
  } catch (const CLI::CallForVersion& e) {
    return stop(exit_code::ok, e.what());
  } catch (const CLI::FileError&) {
    return stop(exit_code::config, std::string("cannot read config file ") + config_option->as<std::string>());
  } catch (const FileProblem& e) {
    file = config_option->as<std::string>();
    std::string where = file + ":" + std::to_string(e.line) + ": ";
    return stop(exit_code::config, where + (e.key.empty() ? "" : e.key + ": ") + e.what());
  } catch (const CLI::ParseError& e) {
    std::string key, why;
    if (split_option_message(e.what(), &key, &why))
      return key_error(args, config_option->as<std::string>(), *lines, key, why);
    return stop(exit_code::usage, std::string("command line: ") + e.what());
  }
  if (auto why = broadcast_problem(o, text_option->count() > 0)) return stop(exit_code::usage, "command line: " + *why);
  file = config_option->as<std::string>();
  o.config_path = lines->lines.empty() && !std::ifstream(file) ? "" : file;
  apply_words(words, o.config);
  ConfigProblem problem;
  if (!validate(o.config, &problem))
    return key_error(args, file, *lines, blamed_key(args, *lines, problem), problem.message);
  resolve_paths(o.config, as_root, cwd);
  CliOutcome out;
  out.proceed = true;
  out.options = std::move(o);
  return out;
}

}  // namespace ws
