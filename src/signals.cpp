#include "wsserver/signals.hpp"

#include <cerrno>
#include <csignal>

namespace ws::signals {
namespace {

volatile std::sig_atomic_t caught[NSIG];

void record(int sig) {
  int saved = errno;
  caught[sig] = 1;
  errno = saved;
}

void set_action(std::initializer_list<int> sigs, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  // sigaction() only fails for invalid signal numbers, which are constants here.
  for (int sig : sigs) sigaction(sig, &sa, nullptr);
}

}  // namespace

sigset_t make_set(std::initializer_list<int> sigs) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : sigs) sigaddset(&set, sig);
  return set;
}

void catch_signals(std::initializer_list<int> sigs) { set_action(sigs, record); }
void ignore(std::initializer_list<int> sigs) { set_action(sigs, SIG_IGN); }
void restore_default(std::initializer_list<int> sigs) { set_action(sigs, SIG_DFL); }

// sigprocmask() cannot fail with a valid `how` and set.
void block(const sigset_t& set) { sigprocmask(SIG_BLOCK, &set, nullptr); }
void unblock(const sigset_t& set) { sigprocmask(SIG_UNBLOCK, &set, nullptr); }

sigset_t current_mask_without(const sigset_t& set) {
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&set, sig) == 1) sigdelset(&mask, sig);
  return mask;
}

bool take(int sig) {
  if (!caught[sig]) return false;
  caught[sig] = 0;
  return true;
}

bool peek(int sig) { return caught[sig] != 0; }

void clear_all() {
  for (int sig = 1; sig < NSIG; ++sig) caught[sig] = 0;
}

}  // namespace ws::signals
