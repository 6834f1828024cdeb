// wait.hpp: poll a condition until a deadline instead of sleeping.
#pragma once

#include <chrono>
#include <thread>

namespace test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Checks `condition` every few milliseconds until it holds or `timeout`
// passes; returns its last value.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace test
