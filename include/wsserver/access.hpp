// access.hpp: which clients may be served, from `allow` and `deny`. Workers
// check stream clients and datagrams against it; the master parses it once
// per configuration.
#pragma once

#include <vector>

#include "wsserver/cidr.hpp"
#include "wsserver/config.hpp"

namespace ws {

struct AccessRules {
  std::vector<Cidr> allow, deny;
  // True when a client with this address may be served: deny wins, and an
  // empty allow list allows everyone else.
  bool admits(const IpAddress& ip) const;
};

AccessRules parse_access_rules(const Config& config);

}  // namespace ws
