#include "wsserver/access.hpp"

namespace ws {

bool AccessRules::admits(const IpAddress& ip) const {
  if (any_contains(deny, ip)) return false;
  return allow.empty() || any_contains(allow, ip);
}

bool AccessRules::trusts_proxy(const sockaddr_storage& peer) const {
  if (peer.ss_family == AF_UNIX) return true;
  return any_contains(proxy_from, ip_address_of(reinterpret_cast<const sockaddr*>(&peer)));
}

AccessRules parse_access_rules(const Config& config) {
  AccessRules rules;
  // validate() has checked every entry already.
  for (const auto& text : config.allow)
    if (auto c = parse_cidr(text, nullptr)) rules.allow.push_back(*c);
  for (const auto& text : config.deny)
    if (auto c = parse_cidr(text, nullptr)) rules.deny.push_back(*c);
  for (const auto& text : config.proxy_from)
    if (auto c = parse_cidr(text, nullptr)) rules.proxy_from.push_back(*c);
  return rules;
}

}  // namespace ws
