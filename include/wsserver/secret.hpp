// secret.hpp: the shared secret of auth_file, read by the master (workers
// may run as a user that cannot read it) at start and on reload.
#pragma once

#include <string>

namespace ws {

// Reads the first line of `path`, without surrounding white space. Refuses
// anything but a regular file (never following a link, never waiting on a
// FIFO), one owned by neither root nor the user running wsserver, one that
// group or others can read, one over 4096 bytes, an empty secret or one
// holding a NUL; *error says which.
bool load_secret(const std::string& path, std::string* secret, std::string* error);

}  // namespace ws
