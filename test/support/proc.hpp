// proc.hpp: what /proc says about processes the tests started.
#pragma once

#include <string>
#include <vector>

namespace test {

// Live (not zombie) children of `pid`.
std::vector<int> children_of(int pid);
// Children of `pid` that died and are not reaped yet.
std::vector<int> zombie_children_of(int pid);
bool alive(int pid);
bool is_zombie(int pid);
// The value of a /proc/PID/status field ("Cpus_allowed_list" gives "0-1"),
// without the white space before it; empty if there is none.
std::string status_field(int pid, const std::string& field);
// The numbers of a field such as "Uid: 0 0 0 0".
std::vector<long> status_numbers(int pid, const std::string& field);
// A field of /proc/PID/status in KiB (VmHWM, VmRSS...), or -1.
long status_kib(int pid, const std::string& field);
// User + system CPU time of `pid` in seconds, or -1.
double cpu_seconds(int pid);
// Reaps any exited children of this process (tests are subreapers for the
// workers of the servers they start).
void reap_children();

}  // namespace test
