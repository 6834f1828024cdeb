#include "wsserver/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wsserver/log.hpp"

namespace ws {

std::optional<Identity> resolve_identity(const std::string& user, const std::string& group, std::string* error,
                                         std::string* warning) {
  Identity id;
  if (user.empty()) return id;
  errno = 0;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) {
    *error = "user: unknown user \"" + user + "\"";
    return std::nullopt;
  }
  id.user = user;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  if (!group.empty()) {
    const struct group* gr = getgrnam(group.c_str());
    if (!gr) {
      *error = "group: unknown group \"" + group + "\"";
      return std::nullopt;
    }
    id.gid = gr->gr_gid;
  }
  if (geteuid() != 0) {
    if (id.uid != geteuid() && warning) *warning = "not started as root: workers keep this user, not " + user;
    return id;
  }
  id.drop = true;
  return id;
}

bool drop_privileges(const Identity& id, std::string* error) {
  if (!id.drop) return true;
  if (initgroups(id.user.c_str(), id.gid) != 0) return *error = log::syscall_error("initgroups"), false;
  if (setgid(id.gid) != 0) return *error = log::syscall_error("setgid"), false;
  if (setuid(id.uid) != 0) return *error = log::syscall_error("setuid"), false;
  // With an unprivileged uid, getting root back must fail; if it does not,
  // the drop did not happen and the worker must not serve.
  if (id.uid != 0 && setuid(0) == 0) return *error = "setuid(0) succeeded after dropping privileges", false;
  return true;
}

}  // namespace ws
