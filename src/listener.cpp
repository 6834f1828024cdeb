#include "wsserver/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsserver/log.hpp"

namespace ws {
namespace {

std::string local_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  return format_address(reinterpret_cast<sockaddr*>(&ss), len);
}

bool fail(std::string* error, const std::string& what, int err) {
  if (error) *error = what + ": " + std::strerror(err);
  errno = err;
  return false;
}

// Opens one inet socket bound to `addr`; for a stream socket also listens.
bool bind_inet(const sockaddr* addr, socklen_t len, SocketType type, int backlog, Listener& out,
               std::string* error) {
  int socket_type = type == SocketType::udp ? SOCK_DGRAM : SOCK_STREAM;
  Fd fd(socket(addr->sa_family, socket_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  std::string name = format_address(addr, len);
  if (!fd) return fail(error, "cannot create a socket for " + name, errno);
  int one = 1;
  // Both options only fail for bad arguments; they are constants here.
  if (type == SocketType::tcp) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->sa_family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd.get(), addr, len) != 0) return fail(error, "cannot bind " + name, errno);
  if (type == SocketType::tcp && listen(fd.get(), backlog) != 0) return fail(error, "cannot listen on " + name, errno);
  std::string local = local_name(fd.get());
  out.sockets.push_back({std::move(fd), type, local});
  return true;
}

int port_of(const BoundSocket& s) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// A bare port: every IPv6 address (where the kernel has IPv6) and every IPv4
// address, on two sockets so that IPv4 clients keep plain IPv4 addresses.
bool bind_any_once(const ListenAddress& a, int backlog, Listener& out, std::string* error) {
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_addr = in6addr_any;
  six.sin6_port = htons(a.port);
  if (!bind_inet(reinterpret_cast<sockaddr*>(&six), sizeof six, a.type, backlog, out, error)) {
    // Without IPv6 in the kernel, IPv4 alone is what "every address" means.
    if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL) return false;
  }
  sockaddr_in four{};
  four.sin_family = AF_INET;
  four.sin_addr.s_addr = htonl(INADDR_ANY);
  // With port 0 both families share the port the kernel chose for the first.
  four.sin_port = htons(out.sockets.empty() ? a.port : static_cast<uint16_t>(port_of(out.sockets.front())));
  return bind_inet(reinterpret_cast<sockaddr*>(&four), sizeof four, a.type, backlog, out, error);
}

// With port 0 the port the kernel picked for IPv6 may already be taken for
// IPv4 (it only checked IPv6); then both are picked again, a few times.
bool bind_any(const ListenAddress& a, int backlog, Listener& out, std::string* error) {
  constexpr int attempts = 16;
  for (int attempt = 1;; ++attempt) {
    size_t before = out.sockets.size();
    if (bind_any_once(a, backlog, out, error)) return true;
    if (a.port != 0 || errno != EADDRINUSE || attempt == attempts) return false;
    out.sockets.erase(out.sockets.begin() + static_cast<std::ptrdiff_t>(before), out.sockets.end());
  }
}

bool bind_host(const ListenAddress& a, int backlog, Listener& out, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = a.type == SocketType::udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(a.port);
  if (int rc = getaddrinfo(a.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    if (error) *error = "cannot resolve " + a.host + ": " + gai_strerror(rc);
    return false;
  }
  bool ok = true;
  for (addrinfo* ai = found; ai && ok; ai = ai->ai_next) {
    std::string name = format_address(ai->ai_addr, ai->ai_addrlen);
    bool seen = false;
    for (const auto& s : out.sockets) seen = seen || s.local == name;
    if (!seen) ok = bind_inet(ai->ai_addr, ai->ai_addrlen, a.type, backlog, out, error);
  }
  freeaddrinfo(found);
  return ok;
}

// A socket file left by a crashed server is replaced; one that a live server
// answers on is not.
bool clear_stale_socket_file(const std::string& path, std::string* error) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return true;
  if (!S_ISSOCK(st.st_mode)) return fail(error, "cannot bind unix:" + path + ": a file that is not a socket is there", EEXIST);
  Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  if (probe && connect(probe.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) == 0)
    return fail(error, "cannot bind unix:" + path + ": a running server is listening there", EADDRINUSE);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return fail(error, "cannot remove stale socket " + path, errno);
  return true;
}

// chmod and chown on a path follow a symlink that whoever can write to its
// directory may have put there since bind: both act on the file opened
// without following links, and only if it is a socket of ours.
bool apply_unix_access(const std::string& path, const UnixAccess& access, std::string* error) {
  Fd file(open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!file || fstat(file.get(), &st) != 0) return fail(error, "cannot set the mode of unix:" + path, errno);
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
    return fail(error, "cannot set the mode of unix:" + path + ": no longer our socket", EPERM);
  if (access.group != static_cast<gid_t>(-1) && st.st_gid != access.group &&
      fchownat(file.get(), "", static_cast<uid_t>(-1), access.group, AT_EMPTY_PATH) != 0)
    return fail(error, "cannot set the group of unix:" + path + " (unix_group)", errno);
  // An O_PATH descriptor takes no fchmod; its /proc link reaches the same file.
  std::string self = "/proc/self/fd/" + std::to_string(file.get());
  if (chmod(self.c_str(), access.mode) != 0) return fail(error, "cannot set the mode of unix:" + path + " (unix_mode)", errno);
  return true;
}

bool bind_unix(const ListenAddress& a, int backlog, const UnixAccess& access, Listener& out, std::string* error) {
  if (!clear_stale_socket_file(a.path, error)) return false;
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(error, "cannot create a unix socket", errno);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, a.path.c_str(), sizeof un.sun_path - 1);
  // Owner-only from the moment it exists, whatever the umask, until its
  // mode and group are set; nobody can connect before listen() anyway.
  mode_t old_umask = umask(0177);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un);
  int bind_errno = errno;
  umask(old_umask);
  if (rc != 0) return fail(error, "cannot bind unix:" + a.path, bind_errno);
  if (!apply_unix_access(a.path, access, error)) {
    int err = errno;
    unlink(a.path.c_str());
    errno = err;
    return false;
  }
  if (listen(fd.get(), backlog) != 0) return fail(error, "cannot listen on unix:" + a.path, errno);
  out.sockets.push_back({std::move(fd), SocketType::unix_stream, "unix:" + a.path});
  return true;
}

struct Inherited {
  int type = 0;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
};

bool describe_inherited(int fd, Inherited* out) {
  socklen_t len = sizeof out->type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &out->type, &len) == 0 &&
         getsockname(fd, reinterpret_cast<sockaddr*>(&out->addr), &out->len) == 0;
}

bool is_inet(const sockaddr_storage& ss) { return ss.ss_family == AF_INET || ss.ss_family == AF_INET6; }

uint16_t inet_port(const sockaddr_storage& ss) {
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// The host part of two inet addresses, ports aside.
bool same_host(const sockaddr* a, const sockaddr_storage& b) {
  if (a->sa_family != b.ss_family) return false;
  if (a->sa_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b)->sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&b)->sin6_addr, sizeof(in6_addr)) == 0;
}

bool is_wildcard(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
}

bool host_has_address(const ListenAddress& a, const Inherited& s) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = s.type;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(a.host.c_str(), nullptr, &hints, &found) != 0) return false;
  bool match = false;
  for (addrinfo* ai = found; ai && !match; ai = ai->ai_next) match = same_host(ai->ai_addr, s.addr);
  freeaddrinfo(found);
  return match;
}

bool entry_matches(const ListenAddress& a, const Inherited& s) {
  if (s.type != (a.type == SocketType::udp ? SOCK_DGRAM : SOCK_STREAM)) return false;
  if (a.type == SocketType::unix_stream)
    return s.addr.ss_family == AF_UNIX && format_address(reinterpret_cast<const sockaddr*>(&s.addr), s.len) == "unix:" + a.path;
  if (!is_inet(s.addr) || (a.port != 0 && a.port != inet_port(s.addr))) return false;
  return a.host.empty() ? is_wildcard(s.addr) : host_has_address(a, s);
}

// The listener of `out` for `address`, made if it is not there yet.
Listener& listener_for(std::vector<Listener>& out, const ListenAddress& address) {
  for (auto& l : out)
    if (l.address.text == address.text) return l;
  out.push_back({address, {}});
  return out.back();
}

bool adopt_one(const Config& config, int fd, bool managed, std::vector<Listener>& out, std::string* error) {
  Fd owned(fd);
  Inherited s;
  // Ours now: close-on-exec and non-blocking like every socket we bind.
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || !describe_inherited(fd, &s))
    return fail(error, "inherited descriptor " + std::to_string(fd) + " is not a socket", errno ? errno : ENOTSOCK);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string local = format_address(reinterpret_cast<const sockaddr*>(&s.addr), s.len);
  for (const auto& text : config.listen) {
    auto address = parse_listen_address(text, nullptr);
    if (!address || !entry_matches(*address, s)) continue;
    // listen() again applies our backlog; on a listening socket it does nothing else.
    if (s.type == SOCK_STREAM && listen(fd, config.backlog) != 0)
      return fail(error, "cannot listen on inherited socket " + local, errno);
    Listener& listener = listener_for(out, *address);
    listener.managed = listener.managed || managed;
    listener.sockets.push_back({std::move(owned), address->type, local, 0, managed});
    return true;
  }
  *error = "inherited socket " + std::to_string(fd) + " (" + local + (s.type == SOCK_DGRAM ? ", datagram" : "") +
           ") matches no listen entry";
  return false;
}

}  // namespace

std::optional<std::vector<Listener>> adopt_inherited(const Config& config, int count,
                                                     const std::vector<std::string>& names, std::string* error) {
  std::vector<Listener> out;
  for (int i = 0; i < count; ++i) {
    bool managed = static_cast<size_t>(i) >= names.size() || names[i] != handed_over_name;
    if (adopt_one(config, 3 + i, managed, out, error)) continue;
    // The rest are closed too: a failed start holds nothing.
    for (int j = i + 1; j < count; ++j) close(3 + j);
    return std::nullopt;
  }
  return out;
}

std::optional<UnixAccess> unix_access(const Config& config, const Identity& workers, std::string* error) {
  UnixAccess access{static_cast<mode_t>(config.unix_mode), workers.drop ? workers.gid : static_cast<gid_t>(-1)};
  if (config.unix_group.empty()) return access;
  const group* gr = getgrnam(config.unix_group.c_str());
  if (!gr) {
    *error = "unix_group: unknown group \"" + config.unix_group + "\"";
    return std::nullopt;
  }
  access.group = gr->gr_gid;
  return access;
}

bool set_unix_access(const Listener& listener, const UnixAccess& access, std::string* error) {
  return listener.address.type != SocketType::unix_stream || apply_unix_access(listener.address.path, access, error);
}

std::optional<Listener> open_listener(const ListenAddress& address, int backlog, std::string* error,
                                      const UnixAccess& access) {
  Listener out;
  out.address = address;
  bool ok = address.type == SocketType::unix_stream ? bind_unix(address, backlog, access, out, error)
            : address.host.empty()                      ? bind_any(address, backlog, out, error)
                                                        : bind_host(address, backlog, out, error);
  if (!ok) return std::nullopt;
  return out;
}

void set_inherited_options(const Listener& listener, int idle_timeout_seconds) {
  timeval tv{idle_timeout_seconds, 0};
  int one = 1;
  for (const auto& s : listener.sockets) {
    if (s.type != SocketType::tcp) continue;
    // Only bad arguments make these fail; the options are constants here.
    setsockopt(s.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s.fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
}

void refuse_new_connections(const Listener& listener) {
  if (listener.address.type == SocketType::unix_stream) {
    remove_socket_file(listener);
    return;
  }
  // A filter that accepts nothing: new handshakes never complete, so they are
  // not queued, and their clients are refused once the socket closes. The
  // connections already queued were created before the filter and keep working.
  sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog program{1, drop_all};
  for (const auto& s : listener.sockets) {
    if (s.type != SocketType::tcp || s.managed) continue;
    if (setsockopt(s.fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
      log::warn("cannot stop new connections on %s: %s", s.local.c_str(), std::strerror(errno));
  }
}

bool backlog_drained(const BoundSocket& socket) { return accept_queue_length(socket) <= 0; }

int accept_queue_length(const BoundSocket& socket) {
  if (socket.type != SocketType::tcp) return -1;
  tcp_info info{};
  socklen_t len = sizeof info;
  // For a listening socket the kernel reports its accept queue's length in tcpi_unacked.
  if (getsockopt(socket.fd.get(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
  return info.tcpi_state == TCP_LISTEN ? static_cast<int>(info.tcpi_unacked) : 0;
}

bool socket_readable(const BoundSocket& socket) {
  pollfd p{socket.fd.get(), POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void stop_listening(const BoundSocket& socket) {
  if (socket.type != SocketType::tcp || socket.managed) return;
  // ENOTCONN: it was not listening any more; nothing to stop.
  shutdown(socket.fd.get(), SHUT_RDWR);
}

void remove_socket_file(const Listener& listener) {
  // A missing file is fine: someone cleaned up already. A manager's socket
  // file is the manager's.
  if (listener.managed) return;
  if (listener.address.type == SocketType::unix_stream) unlink(listener.address.path.c_str());
}

}  // namespace ws
