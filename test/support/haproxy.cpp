#include "haproxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "wsserver/fd.hpp"

#include "client.hpp"
#include "wait.hpp"

namespace test {
namespace {

const char* const haproxy_binary = "/usr/sbin/haproxy";
const char* const openssl_binary = "/usr/bin/openssl";
// The listening sockets HAProxy inherits: `bind fd@3` and `bind fd@4`.
constexpr int plain_fd = 3, tls_fd = 4;

// A listening socket on 127.0.0.1, port 0: the kernel's free port, no race.
ws::Fd listen_loopback(uint16_t* port) {
  ws::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof in;
  if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&in), len) != 0 || listen(fd.get(), 128) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&in), &len) != 0)
    throw std::runtime_error("cannot listen on 127.0.0.1 for haproxy");
  *port = ntohs(in.sin_port);
  return fd;
}

// The example's choices (etc/haproxy/wsserver.cfg), with checks every
// 100 ms so that a test sees a server go down or up within a second.
std::string make_config(const HaproxyOptions& o, const std::string& socket, const std::string& pem) {
  std::ostringstream c;
  c << "global\n"
       "    nbthread 1\n"
       "    maxconn 2000\n"
       "    log stderr format raw local0 info\n"
       "    stats socket " << socket << " mode 600 level admin\n"
       "defaults\n"
       "    mode tcp\n"
       "    log global\n"
       "    option tcplog\n"
       "    timeout connect 2s\n"
       "    timeout client 60s\n"
       "    timeout server 60s\n"
       "    timeout check 1s\n"
       "    retries 2\n"
       "    option redispatch 1\n"
       "frontend plain\n"
       "    bind fd@" << plain_fd << "\n"
       "    default_backend wsserver\n";
  if (o.tls)
    c << "frontend tls\n"
         "    bind fd@" << tls_fd << " ssl crt " << pem << "\n"
         "    default_backend wsserver\n";
  c << "backend wsserver\n"
       "    balance leastconn\n"
       "    option tcp-check\n"
       "    tcp-check send \"health check\\n\"\n"
       "    tcp-check expect binary " << o.check_reply_hex << "\n"
       "    default-server check inter 100ms fastinter 100ms downinter 100ms fall 2 rise 2"
    << (o.send_proxy ? " send-proxy-v2 check-send-proxy" : "") << "\n";
  for (size_t i = 0; i < o.servers.size(); ++i) c << "    server ws" << i + 1 << " " << o.servers[i] << "\n";
  return c.str();
}

int spawn_haproxy(const std::string& config, const std::string& log, int plain, int tls) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid != 0) return pid;
  setpgid(0, 0);
  // Out of the way first: either may sit on 3 or 4, or where open() lands.
  plain = fcntl(plain, F_DUPFD_CLOEXEC, 100);
  tls = fcntl(tls, F_DUPFD_CLOEXEC, 100);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  // dup2 clears close-on-exec: these five, and nothing else, reach haproxy.
  if (plain < 0 || tls < 0 || null < 0 || out < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
  if (dup2(plain, plain_fd) < 0 || dup2(tls, tls_fd) < 0) _exit(126);
  close_range(tls_fd + 1, ~0U, 0);
  execl(haproxy_binary, "haproxy", "-db", "-f", config.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

// The value of `column` in the CSV row whose first two fields are `proxy`
// and `server`, from `show stat`.
std::string csv_field(const std::string& csv, const std::string& proxy, const std::string& server,
                      const std::string& column) {
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& l) {
    std::vector<std::string> fields;
    std::istringstream s(l);
    for (std::string f; std::getline(s, f, ',');) fields.push_back(f);
    return fields;
  };
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) header = split(line.substr(2));
    auto fields = split(line);
    if (fields.size() < 2 || fields[0] != proxy || fields[1] != server) continue;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i)
      if (header[i] == column) return fields[i];
  }
  return "";
}

}  // namespace

Haproxy::Haproxy(HaproxyOptions options) {
  if (options.tls) certificate_ = make_certificate(dir_);
  socket_ = dir_.file("stats.sock");
  std::string config = dir_.write("haproxy.cfg", make_config(options, socket_, certificate_));
  ws::Fd plain = listen_loopback(&port_);
  ws::Fd tls = listen_loopback(&tls_port_);
  pid_ = spawn_haproxy(config, dir_.file("haproxy.log"), plain.get(), tls.get());
  // HAProxy holds them now; ours closed, a dead haproxy refuses clients.
  plain.reset();
  tls.reset();
  bool exited = false;
  wait_until([&] { return (exited = waitpid(pid_, nullptr, WNOHANG) == pid_) || !stats("show info").empty(); }, 10s);
  if (exited || stats("show info").empty()) {
    std::string why = exited ? "" : " (no answer on its stats socket)";
    std::string output = log();
    if (exited) pid_ = -1;
    stop();
    throw std::runtime_error(std::string("haproxy did not start") + why + " (make test installs it):\n" + output +
                             "\nconfig:\n" + this->config());
  }
}

Haproxy::~Haproxy() { stop(); }

void Haproxy::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string Haproxy::config() const { return read_file(dir_.file("haproxy.cfg")); }
std::string Haproxy::log() const { return read_file(dir_.file("haproxy.log")); }

std::string Haproxy::stats(const std::string& command) const {
  try {
    Client c = Client::connect_unix(socket_);
    if (!c.send(command + "\n")) return "";
    return c.read_to_eof(2s).value_or("");
  } catch (const std::runtime_error&) {
    return "";
  }
}

std::string Haproxy::server_state(size_t i) const {
  return csv_field(stats("show stat"), "wsserver", "ws" + std::to_string(i + 1), "status");
}

bool Haproxy::wait_state(size_t i, std::string_view state, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return server_state(i).rfind(state, 0) == 0; }, timeout);
}

std::string make_certificate(const TempDir& dir) {
  std::string key = dir.file("key.pem"), cert = dir.file("cert.pem");
  auto r = run_program({openssl_binary, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert},
                       20s);
  if (r.status != 0)
    throw std::runtime_error("openssl req failed (status " + std::to_string(r.status) +
                             "; make test installs openssl): " + r.err);
  return dir.write("server.pem", read_file(cert) + read_file(key), 0600);
}

ProgramResult tls_exchange(uint16_t port, const std::string& ca, const std::string& input, const std::string& source,
                           std::chrono::milliseconds timeout) {
  TempDir dir;
  std::string in = dir.write("input", input);
  // -quiet: no session dump, and the input's end does not end the session:
  // the server's close does.
  std::string command = std::string("exec ") + openssl_binary + " s_client -quiet -verify_return_error -CAfile " +
                        ca + " -verify_hostname localhost -bind " + source + ":0 -connect 127.0.0.1:" + std::to_string(port) +
                        " < " + in;
  return run_program({"/bin/sh", "-c", command}, timeout);
}

}  // namespace test
