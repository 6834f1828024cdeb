// wsserver: a pre-forking socket server daemon. See wsserver(8).
#include <linux/close_range.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "wsserver/cli.hpp"
#include "wsserver/control.hpp"
#include "wsserver/daemon.hpp"
#include "wsserver/exit_codes.hpp"
#include "wsserver/listener.hpp"
#include "wsserver/log.hpp"
#include "wsserver/master.hpp"
#include "wsserver/pidfile.hpp"
#include "wsserver/privileges.hpp"
#include "wsserver/remote.hpp"
#include "wsserver/sd_notify.hpp"
#include "wsserver/secret.hpp"
#include "wsserver/ws_page.hpp"
#include "wsserver/signals.hpp"
#include "wsserver/upgrade.hpp"

namespace {

std::string current_directory() {
  std::vector<char> buf(4096);
  return getcwd(buf.data(), buf.size()) ? std::string(buf.data()) : std::string("/");
}

// A start that fails before the logs are open: whoever started us hears
// why, on stderr and, when there is one, on the notification socket (an
// upgrading master passes it on to `-s upgrade`).
[[noreturn]] void fail_start(int code, const std::string& message) {
  std::fprintf(stderr, "wsserver: %s\n", message.c_str());
  ws::sd::notify("STATUS=" + message + "\nEXIT_STATUS=" + std::to_string(code));
  std::exit(code);
}

// Handles -V, -h and command-line errors; returns the options to run with.
ws::Options parse_or_exit(const std::vector<std::string>& args, const std::string& cwd) {
  ws::CliOutcome outcome = ws::parse_command_line(args, cwd, geteuid() == 0);
  if (outcome.proceed) return std::move(outcome.options);
  if (outcome.exit_code == ws::exit_code::ok) {
    std::fputs(outcome.message.c_str(), stdout);
    if (!outcome.message.empty() && outcome.message.back() != '\n') std::fputc('\n', stdout);
    std::exit(outcome.exit_code);
  }
  fail_start(outcome.exit_code, outcome.message);
}

ws::Identity resolve_identity_or_exit(const ws::Config& config, std::string* warning) {
  std::string error;
  auto identity = ws::resolve_identity(config.user, config.group, &error, warning);
  if (!identity) fail_start(ws::exit_code::config, error);
  return *identity;
}

void open_logs(const ws::Options& options, const ws::Identity& identity) {
  if (identity.drop) ws::log::set_file_owner(identity.uid);
  std::string error;
  if (!ws::log::open({ws::log_target(options), options.config.log_level}, &error) ||
      !ws::log::open_access(options.config.access_log, &error))
    ws::log::fatal(ws::exit_code::cant_create, "%s", error.c_str());
}

ws::PidFile lock_pid_file(const ws::Config& config) {
  int running = 0;
  std::string error;
  auto pid_file = ws::PidFile::lock(config.pid_file, &running, &error);
  if (!pid_file) ws::log::fatal(running ? ws::exit_code::unavailable : ws::exit_code::cant_create, "%s", error.c_str());
  return std::move(*pid_file);
}

ws::UnixAccess unix_access_or_exit(const ws::Config& config, const ws::Identity& identity) {
  std::string error;
  auto access = ws::unix_access(config, identity, &error);
  if (!access) fail_start(ws::exit_code::config, error);
  return *access;
}

// The sockets passed by systemd or by an upgrading master (LISTEN_FDS),
// matched to `listen` entries; an unmatched one is a configuration error.
std::vector<ws::Listener> adopt_inherited(const ws::Config& config, ws::PidFile& pid_file) {
  ws::sd::ListenFds fds = ws::sd::take_listen_fds();
  std::string error;
  auto adopted = ws::adopt_inherited(config, fds.count, fds.names, &error);
  if (!adopted) {
    pid_file.abandon();
    ws::log::fatal(ws::exit_code::config, "%s", error.c_str());
  }
  return std::move(*adopted);
}

std::vector<ws::Listener> bind_listeners(const ws::Config& config, const ws::UnixAccess& access, ws::PidFile& pid_file) {
  std::vector<ws::Listener> adopted = adopt_inherited(config, pid_file);
  std::vector<ws::Listener> listeners;
  for (const auto& text : config.listen) {
    auto inherited = std::find_if(adopted.begin(), adopted.end(),
                                  [&](const ws::Listener& l) { return l.address.text == text && !l.sockets.empty(); });
    if (inherited != adopted.end()) {
      listeners.push_back(std::move(*inherited));  // leaves it empty: a repeated entry is bound anew
      continue;
    }
    std::string error;
    auto address = ws::parse_listen_address(text, &error);
    auto listener = address ? ws::open_listener(*address, config.backlog, &error, access) : std::nullopt;
    if (!listener) {
      pid_file.abandon();
      ws::log::fatal(ws::exit_code::os_error, "%s", error.c_str());
    }
    listeners.push_back(std::move(*listener));
  }
  return listeners;
}

// Bound with the listeners, before detaching, so that a port in use is
// reported to whoever started the server.
std::optional<ws::MetricsServer> open_metrics(const ws::Config& config, ws::PidFile& pid_file,
                                              const std::vector<ws::Listener>& listeners) {
  if (config.metrics_listen.empty()) return std::nullopt;
  std::string error;
  auto metrics = ws::MetricsServer::open(config.metrics_listen, &error);
  if (!metrics) {
    pid_file.abandon();
    for (const auto& listener : listeners) ws::remove_socket_file(listener);
    ws::log::fatal(ws::exit_code::os_error, "metrics_listen: %s", error.c_str());
  }
  return metrics;
}

// After detaching: the pid file gets the daemon's pid, the control socket
// is bound, and only then does the launcher hear that we are ready.
void claim_files(ws::MasterSetup& setup) {
  std::string error;
  if (setup.pid_file->stale_pid() > 0 && setup.pid_file->stale_pid() != getpid())
    ws::log::warn("taking over a stale pid file %s (pid %d)", setup.pid_file->path().c_str(), setup.pid_file->stale_pid());
  if (!setup.pid_file->write(static_cast<int>(getpid()), &error)) {
    setup.pid_file->abandon();
    ws::log::fatal(ws::exit_code::cant_create, "%s", error.c_str());
  }
  setup.control = ws::ControlServer::open(setup.options.config.control_socket, &error);
  if (!setup.control) {
    setup.pid_file->remove();
    for (const auto& listener : setup.listeners) ws::remove_socket_file(listener);
    ws::log::fatal(ws::exit_code::cant_create, "%s", error.c_str());
  }
}

// An upgrade's new master is detached already: it only leaves the start
// directory it was given for relative paths, as detach() would.
void detach_unless_upgrading(const ws::Options& options, bool upgrading) {
  if (!options.daemon) return;
  if (!upgrading) return ws::daemon::detach();
  if (chdir("/") != 0) ws::log::warn("%s", ws::log::syscall_error("chdir").c_str());
}

bool take_upgrade_mark() {
  bool upgrading = std::getenv(ws::upgrade::from_variable) != nullptr;
  unsetenv(ws::upgrade::from_variable);
  return upgrading;
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever started us may have left descriptors open without
  // close-on-exec; none of them belongs in a worker, except the listening
  // sockets passed on purpose (LISTEN_FDS).
  close_range(3 + ws::sd::listen_fds_count(), ~0U, 0);  // fails only on kernels before 5.9, where nothing else can be done
  // A client that disconnects mid-write must never kill a process.
  ws::signals::ignore({SIGPIPE});
  // Nor may a blocked mask from whatever started us keep Ctrl-C from a
  // waiting -s or -t.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  ws::MasterSetup setup;
  ws::sd::init_from_environment();
  setup.cwd = current_directory();
  setup.args = ws::with_absolute_config({argv + 1, argv + argc}, setup.cwd);
  setup.binary = ws::upgrade::own_binary(argv[0], setup.cwd);
  setup.options = parse_or_exit(setup.args, setup.cwd);
  const ws::Options& options = setup.options;
  if (!options.signal_action.empty()) return ws::act_on_master(options);
  std::string warning;
  setup.identity = resolve_identity_or_exit(options.config, &warning);
  ws::UnixAccess unix_access = unix_access_or_exit(options.config, setup.identity);
  std::string error;
  if (!options.config.auth_file.empty() && !ws::load_secret(options.config.auth_file, &setup.secret, &error))
    fail_start(ws::exit_code::config, error);
  if (!ws::ws_page_for(options.config.ws_page, &setup.ws_page, &error)) fail_start(ws::exit_code::config, error);
  if (options.test_config) {
    if (!warning.empty()) std::fprintf(stderr, "wsserver: warning: %s\n", warning.c_str());
    std::puts("configuration ok");
    return ws::exit_code::ok;
  }
  // Only the master blocks its signals, held until it waits so that none is
  // lost during start-up.
  ws::signals::block(ws::master_signal_set());
  bool upgrading = take_upgrade_mark();
  open_logs(options, setup.identity);
  setup.pid_file = lock_pid_file(options.config);
  setup.listeners = bind_listeners(options.config, unix_access, *setup.pid_file);
  setup.metrics = open_metrics(options.config, *setup.pid_file, setup.listeners);
  detach_unless_upgrading(options, upgrading);
  claim_files(setup);
  setup.identity_warning = warning;
  // The master's edge: as in the worker (src/worker.cpp), an exception is a
  // broken contract; the master logs it and exits 1 rather than abort. Its
  // workers notice its death and leave once their clients are done.
  try {
    ws::Master master(std::move(setup));
    return master.run();
  } catch (const std::exception& e) {
    ws::log::fatal(ws::exit_code::failure, "master failed: %s", e.what());
  }
}
