// signals.hpp: signal plumbing shared by master and workers. Handlers only
// record that a signal arrived; the loops take the records while the signals
// are blocked and sleep with them unblocked (ppoll, epoll_pwait), so a signal
// is never lost between a check and a wait.
#pragma once

#include <signal.h>

#include <initializer_list>

namespace ws::signals {

sigset_t make_set(std::initializer_list<int> sigs);

// Installs the recording handler for each signal (no SA_RESTART, so blocking
// calls return EINTR when the signal is unblocked).
void catch_signals(std::initializer_list<int> sigs);
void ignore(std::initializer_list<int> sigs);
void restore_default(std::initializer_list<int> sigs);

void block(const sigset_t& set);
void unblock(const sigset_t& set);
// The mask with `set` removed from the current one, for ppoll/epoll_pwait.
sigset_t current_mask_without(const sigset_t& set);

// True once per arrival of `sig` since the last call (several arrivals of the
// same signal between two calls count once, as the kernel does).
bool take(int sig);
// True if `sig` arrived and was not taken yet; does not clear it.
bool peek(int sig);
// Forgets every recorded signal (after fork, the child starts clean).
void clear_all();

}  // namespace ws::signals

// What the master tells a worker, by signal: the one place that says so.
// Not the master's own meanings (wsserver(8)): TERM asks the master for a
// graceful stop, and `-s stop` sends the master INT for a fast one, but the
// master passes a graceful stop on to workers as `drain` and a fast one as
// `stop_now`.
namespace ws::worker_signal {

// Finish the client, serve every connection left in the listen backlog, exit.
inline constexpr int drain = SIGQUIT;
// Finish the client and exit: a reload, a smaller pool, or the master's death.
inline constexpr int retire = SIGUSR2;
// Tell the client the server is shutting down and exit, even mid-conversation.
inline constexpr int stop_now = SIGTERM;
// Reopen the log files, even mid-conversation.
inline constexpr int reopen_logs = SIGUSR1;

}  // namespace ws::worker_signal
