// fd_limit.hpp: enough descriptors for the connections a run opens at once.
#pragma once

#include <string>

namespace wsbench {

// Raises the soft RLIMIT_NOFILE, up to the hard limit, to hold `needed`
// descriptors. False with *error if the hard limit is too low.
bool ensure_fd_limit(long needed, std::string* error);

}  // namespace wsbench
