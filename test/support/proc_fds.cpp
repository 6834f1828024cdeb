#include "proc_fds.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace test {
namespace {

// "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6), as the kernel
// writes them: each 32-bit word in host (little-endian) order.
std::string inet_address(const std::string& hex) {
  size_t colon = hex.find(':');
  std::string addr = hex.substr(0, colon);
  unsigned port = static_cast<unsigned>(std::stoul(hex.substr(colon + 1), nullptr, 16));
  std::vector<unsigned char> bytes;
  for (size_t word = 0; word < addr.size(); word += 8)
    for (int b = 3; b >= 0; --b) bytes.push_back(static_cast<unsigned char>(std::stoul(addr.substr(word + 2 * b, 2), nullptr, 16)));
  std::ostringstream out;
  if (bytes.size() == 4) {
    out << int(bytes[0]) << '.' << int(bytes[1]) << '.' << int(bytes[2]) << '.' << int(bytes[3]) << ':' << port;
    return out.str();
  }
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  out << "[" << text << "]:" << port;
  return out.str();
}

void read_inet(const std::string& file, SocketInfo::Kind kind, std::map<unsigned long, SocketInfo>& out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
    unsigned long inode = 0;
    if (!(f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode) || inode == 0) continue;
    SocketInfo info;
    info.kind = kind;
    info.local = inet_address(local);
    info.remote = inet_address(remote);
    int st = std::stoi(state, nullptr, 16);
    // TCP states: 0A LISTEN, 02 SYN_SENT, 03 SYN_RECV; the rest follow an established connection.
    info.listening = kind == SocketInfo::udp || st == 0x0A;
    info.connected = kind == SocketInfo::tcp && st != 0x0A && st != 0x02 && st != 0x03 && st != 0x07;
    out[inode] = info;
  }
}

void read_unix(std::map<unsigned long, SocketInfo>& out) {
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refs, protocol, flags, type, state;
    unsigned long inode = 0;
    if (!(f >> num >> refs >> protocol >> flags >> type >> state >> inode)) continue;
    std::string path;
    std::getline(f >> std::ws, path);
    int t = std::stoi(type, nullptr, 16);
    SocketInfo info;
    info.kind = t == 1 ? SocketInfo::unix_stream : t == 5 ? SocketInfo::unix_seqpacket : SocketInfo::unix_dgram;
    info.local = path;
    info.listening = (std::stoul(flags, nullptr, 16) & 0x10000) != 0;  // __SO_ACCEPTCON
    info.connected = std::stoi(state, nullptr, 16) == 3;                // SS_CONNECTED
    out[inode] = info;
  }
}

}  // namespace

std::map<int, std::string> open_fds(int pid) {
  std::map<int, std::string> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[4096];
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    if (n > 0) fds[std::atoi(e->d_name)] = std::string(target, static_cast<size_t>(n));
  }
  closedir(d);
  return fds;
}

unsigned long socket_inode(const std::string& link) {
  if (link.rfind("socket:[", 0) != 0) return 0;
  return std::strtoul(link.c_str() + 8, nullptr, 10);
}

std::map<unsigned long, SocketInfo> socket_table() {
  std::map<unsigned long, SocketInfo> table;
  read_inet("/proc/net/tcp", SocketInfo::tcp, table);
  read_inet("/proc/net/tcp6", SocketInfo::tcp, table);
  read_inet("/proc/net/udp", SocketInfo::udp, table);
  read_inet("/proc/net/udp6", SocketInfo::udp, table);
  read_unix(table);
  return table;
}

}  // namespace test
