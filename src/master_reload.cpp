// The master's reload (SIGHUP): reread the config, and change nothing unless
// all of it can be applied. Every step that can fail comes before the first
// that changes what serves; the logs, switched last of them, are switched
// back on failure. A chat ring made on the way is kept: it serves nobody
// until the service is chat.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "wsserver/log.hpp"
#include "wsserver/master.hpp"
#include "wsserver/secret.hpp"
#include "wsserver/ws_page.hpp"

namespace ws {

// The ring is made once, before the workers that share it are forked, and
// sized for max_message and chat_backlog as they are then.
bool Master::prepare_chat(const Config& config) {
  if (config.service != ServiceKind::chat || chat_) return true;
  size_t capacity = std::max(ChatRing::capacity_for(static_cast<size_t>(config.max_message)),
                             4 * static_cast<size_t>(config.chat_backlog));
  std::string error;
  chat_ = ChatRing::create(capacity, &error);
  if (!chat_) log::error("chat ring of %zu bytes: %s", capacity, error.c_str());
  return chat_.has_value();
}

namespace {

// Listeners opened for a reload that failed: closed, and unix ones' files gone.
void discard(std::vector<Listener>& fresh) {
  for (const auto& listener : fresh) remove_socket_file(listener);
  fresh.clear();
}

}  // namespace

// Binds the addresses that are new in `next`; none is taken from the old
// listeners yet.
bool Master::open_new_listeners(const Config& next, const UnixAccess& access, std::vector<Listener>* fresh) {
  for (const auto& text : next.listen) {
    auto same = std::find_if(s_.listeners.begin(), s_.listeners.end(),
                             [&](const Listener& l) { return l.address.text == text && !l.sockets.empty(); });
    if (same != s_.listeners.end()) continue;
    std::string error;
    auto address = parse_listen_address(text, &error);
    auto listener = address ? open_listener(*address, next.backlog, &error, access) : std::nullopt;
    if (!listener) {
      log::error("reload failed, nothing changed: %s", error.c_str());
      discard(*fresh);
      return false;
    }
    fresh->push_back(std::move(*listener));
  }
  return true;
}

// The listeners of `next`: unchanged addresses keep their sockets, so no
// client is refused; `fresh` supplies the new ones; the rest stop listening.
std::vector<Listener> Master::adopt_listeners(const Config& next, const UnixAccess& access, std::vector<Listener> fresh) {
  std::vector<Listener> adopted;
  for (const auto& text : next.listen) {
    auto same = std::find_if(s_.listeners.begin(), s_.listeners.end(),
                             [&](const Listener& l) { return l.address.text == text && !l.sockets.empty(); });
    if (same == s_.listeners.end()) {
      auto made = std::find_if(fresh.begin(), fresh.end(), [&](const Listener& l) { return l.address.text == text; });
      adopted.push_back(std::move(*made));
      for (const auto& socket : adopted.back().sockets)
        log::info("listening on %s%s", adopted.back().address.transport.prefix(), socket.local.c_str());
      continue;
    }
    for (const auto& socket : same->sockets)
      if (socket.type != SocketType::udp) listen(socket.fd.get(), next.backlog);  // applies a new backlog
    std::string error;
    if (!set_unix_access(*same, access, &error)) log::warn("%s", error.c_str());  // it keeps serving as it was
    adopted.push_back(std::move(*same));
  }
  for (const auto& old : s_.listeners) {
    if (old.sockets.empty()) continue;
    // Busy old workers keep copies until their clients leave; stopped here,
    // the socket refuses new clients at once instead of queueing them where
    // nobody accepts (retiring workers take no new client).
    for (const auto& socket : old.sockets) {
      log::info("no longer listening on %s", socket.local.c_str());
      stop_listening(socket);
    }
    remove_socket_file(old);
  }
  return adopted;
}

// Opens the logs `next` names, files created from now on going to the
// workers' (maybe new) user; on failure reopens the old ones as they were.
bool Master::switch_logs(const Options& next, const Identity& identity) {
  std::string error;
  if (identity.drop) log::set_file_owner(identity.uid);
  if (log::open({log_target(next), next.config.log_level}, &error) && log::open_access(next.config.access_log, &error))
    return true;
  log::set_file_owner(s_.identity.drop ? s_.identity.uid : geteuid());
  log::open({log_target(s_.options), config_.log_level}, nullptr);
  log::open_access(config_.access_log, nullptr);
  log::error("reload failed, nothing changed: %s", error.c_str());
  return false;
}

// The endpoint `next` asks for, when it is a new address: bound here, before
// anything changes, so that a reload that cannot bind it changes nothing.
bool Master::open_metrics(const Config& next, std::optional<MetricsServer>* fresh) {
  if (next.metrics_listen.empty() || (next.metrics_listen == config_.metrics_listen && s_.metrics)) return true;
  std::string error;
  *fresh = MetricsServer::open(next.metrics_listen, &error);
  if (!*fresh) log::error("reload failed, nothing changed: metrics_listen: %s", error.c_str());
  return fresh->has_value();
}

// An unchanged address keeps its socket (and the scrapes in progress).
void Master::adopt_metrics(const std::string& address, std::optional<MetricsServer> fresh) {
  if (!fresh && !address.empty()) return;
  if (s_.metrics)
    for (const auto& local : s_.metrics->local()) log::info("no more metrics on %s", local.c_str());
  s_.metrics = std::move(fresh);
  if (s_.metrics)
    for (const auto& local : s_.metrics->local()) log::info("metrics on http://%s/metrics", local.c_str());
}

void Master::reload() {
  log::info("reloading the configuration");
  ++(apply_reload() ? master_counters_.reloads_applied : master_counters_.reloads_refused);
}

bool Master::apply_reload() {
  CliOutcome outcome = parse_command_line(s_.args, s_.cwd, geteuid() == 0);
  if (!outcome.proceed) {
    log::error("reload failed, nothing changed: %s", outcome.message.c_str());
    return false;
  }
  Options next = std::move(outcome.options);
  std::string error, warning, secret, page;
  auto identity = resolve_identity(next.config.user, next.config.group, &error, &warning);
  if (!identity || (!next.config.auth_file.empty() && !load_secret(next.config.auth_file, &secret, &error)) ||
      !ws_page_for(next.config.ws_page, &page, &error)) {
    log::error("reload failed, nothing changed: %s", error.c_str());
    return false;
  }
  auto unix_perms = unix_access(next.config, *identity, &error);
  if (!unix_perms) {
    log::error("reload failed, nothing changed: %s", error.c_str());
    return false;
  }
  if (next.config.pid_file != config_.pid_file || next.config.control_socket != config_.control_socket) {
    log::warn("pid_file and control_socket change only at restart: keeping %s", config_.pid_file.c_str());
    next.config.pid_file = config_.pid_file;
    next.config.control_socket = config_.control_socket;
  }
  if (!prepare_chat(next.config)) {
    log::error("reload failed, nothing changed: no chat ring");
    return false;
  }
  std::vector<Listener> fresh;
  if (!open_new_listeners(next.config, *unix_perms, &fresh)) return false;
  std::optional<MetricsServer> fresh_metrics;
  if (!open_metrics(next.config, &fresh_metrics) || !switch_logs(next, *identity)) {
    discard(fresh);
    return false;
  }
  if (chat_ && static_cast<size_t>(next.config.max_message) > chat_->max_message())
    log::warn("max_message %lld exceeds the chat ring's %zu bytes until restart", next.config.max_message,
              chat_->max_message());

  if (next.config.chat_bus != config_.chat_bus)
    log::warn("chat_bus changed: the chat bus keeps %s until restart",
              bus_url_ ? bus_url_->text().c_str() : "being off");
  s_.listeners = adopt_listeners(next.config, *unix_perms, std::move(fresh));
  adopt_metrics(next.config.metrics_listen, std::move(fresh_metrics));
  s_.options = std::move(next);
  for (const auto& listener : s_.listeners) set_inherited_options(listener, config_.idle_timeout);
  s_.identity = std::move(*identity);
  s_.secret = std::move(secret);
  s_.ws_page = std::move(page);
  access_ = parse_access_rules(config_);
  if (s_.control) s_.control->set_max_request(static_cast<size_t>(config_.max_message) + 64);
  spawn_rate_ = 1;
  if (!warning.empty()) log::warn("%s", warning.c_str());
  ++generation_;
  target_workers_ = config_.workers;
  young_crashes_ = 0;
  next_spawn_ms_ = 0;
  for (auto& c : children_)
    if (!c.retiring) retire(c);
  log::info("reloaded: generation %u, service %s, %d workers", generation_, service_name(config_.service),
            config_.workers);
  return true;
}

}  // namespace ws
