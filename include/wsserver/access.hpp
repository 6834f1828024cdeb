// access.hpp: which clients may be served, from `allow` and `deny`, and
// whose PROXY headers are believed, from `proxy_from`. Workers check stream
// clients and datagrams against it; the master parses it once per
// configuration.
#pragma once

#include <sys/socket.h>

#include <vector>

#include "wsserver/cidr.hpp"
#include "wsserver/config.hpp"

namespace ws {

struct AccessRules {
  std::vector<Cidr> allow, deny, proxy_from;
  // True when a client with this address may be served: deny wins, and an
  // empty allow list allows everyone else.
  bool admits(const IpAddress& ip) const;
  // True when a PROXY header from this peer (the socket's own, before any
  // header) is believed: a unix socket peer always (only local processes
  // that may open the file reach it), an IP one within proxy_from.
  bool trusts_proxy(const sockaddr_storage& peer) const;
};

AccessRules parse_access_rules(const Config& config);

}  // namespace ws
