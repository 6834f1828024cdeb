// privileges.hpp: the workers' user and group. Names are resolved by the
// master (so an unknown user is a start-up or reload error); each worker
// drops right after fork: supplementary groups, then gid, then uid, and then
// checks that it cannot get root back. Started as root without `user`, the
// workers run as nobody (group nogroup, or nobody's own group); root only
// when `user` names it, with a warning.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace ws {

struct Identity {
  bool drop = false;  // false: workers keep the master's identity
  bool defaulted = false;  // no `user` was set: the default user was chosen
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  // The user's supplementary groups, looked up by the master: initgroups()
  // in each worker would load the NSS modules there, some 70 KiB of private
  // memory per worker.
  std::vector<gid_t> groups;
};

// Resolves `user` and `group` (the user's primary group when empty). When
// not running as root nothing can be dropped: `drop` stays false and
// *warning says so; *warning also says when workers would serve as root.
std::optional<Identity> resolve_identity(const std::string& user, const std::string& group, std::string* error,
                                         std::string* warning);
bool drop_privileges(const Identity& id, std::string* error);
// Logs the default user when it was chosen, and `warning` if any.
void log_identity(const Identity& id, const std::string& warning);

}  // namespace ws
