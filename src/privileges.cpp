#include "wsserver/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsserver/log.hpp"

namespace ws {
namespace {

// Root's workers would hand a client exploit the whole machine: with no
// `user`, they run as nobody, as nginx's do.
constexpr const char* default_user = "nobody";
constexpr const char* default_group = "nogroup";

// The default group when it exists; otherwise nobody's primary group.
std::string default_group_name() { return getgrnam(default_group) ? default_group : ""; }

// `user`'s groups, `gid` among them, as initgroups() would set them.
bool supplementary_groups(const std::string& user, gid_t gid, std::vector<gid_t>* groups) {
  int count = 32;
  for (int tries = 0; tries < 8; ++tries) {
    groups->resize(static_cast<size_t>(count));
    int asked = count;
    if (getgrouplist(user.c_str(), gid, groups->data(), &count) >= 0) {
      groups->resize(static_cast<size_t>(count));
      return true;
    }
    if (count <= asked) count = asked * 2;  // glibc sets the count it needs; be safe if not
  }
  return false;
}

}  // namespace

std::optional<Identity> resolve_identity(const std::string& user, const std::string& group, std::string* error,
                                         std::string* warning) {
  Identity id;
  const bool as_root = geteuid() == 0;
  if (user.empty() && !as_root) return id;
  id.defaulted = user.empty();
  const std::string name = id.defaulted ? default_user : user;
  const std::string group_name = id.defaulted ? default_group_name() : group;
  errno = 0;
  const passwd* pw = getpwnam(name.c_str());
  if (!pw) {
    *error = id.defaulted ? "user: not set, and the default user \"nobody\" does not exist: set user"
                          : "user: unknown user \"" + name + "\"";
    return std::nullopt;
  }
  id.user = name;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  if (!group_name.empty()) {
    const struct group* gr = getgrnam(group_name.c_str());
    if (!gr) {
      *error = "group: unknown group \"" + group_name + "\"";
      return std::nullopt;
    }
    id.gid = gr->gr_gid;
  }
  if (!as_root) {
    if (id.uid != geteuid() && warning) *warning = "not started as root: workers keep this user, not " + name;
    return id;
  }
  if (id.uid == 0 && warning) *warning = "user " + name + ": workers serve clients as root";
  if (!supplementary_groups(name, id.gid, &id.groups)) {
    *error = "user: cannot list the groups of \"" + name + "\"";
    return std::nullopt;
  }
  id.drop = true;
  return id;
}

bool drop_privileges(const Identity& id, std::string* error) {
  if (!id.drop) return true;
  if (setgroups(id.groups.size(), id.groups.data()) != 0) return *error = log::syscall_error("setgroups"), false;
  if (setgid(id.gid) != 0) return *error = log::syscall_error("setgid"), false;
  if (setuid(id.uid) != 0) return *error = log::syscall_error("setuid"), false;
  // With an unprivileged uid, getting root back must fail; if it does not,
  // the drop did not happen and the worker must not serve.
  if (id.uid != 0 && setuid(0) == 0) return *error = "setuid(0) succeeded after dropping privileges", false;
  return true;
}

void log_identity(const Identity& id, const std::string& warning) {
  if (id.defaulted)
    log::info("no user set: workers run as %s (uid %u, gid %u)", id.user.c_str(), static_cast<unsigned>(id.uid),
              static_cast<unsigned>(id.gid));
  if (!warning.empty()) log::warn("%s", warning.c_str());
}

}  // namespace ws
