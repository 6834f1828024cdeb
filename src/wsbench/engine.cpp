#include "engine.hpp"

#include <climits>
#include <system_error>

#include "clock.hpp"

namespace wsbench {

Engine::Engine(const Options& options, const Target& target, std::vector<Message> messages)
    : options_(options), target_(target), messages_(std::move(messages)) {
  shared_.options = &options_;
  shared_.target = &target_;
  shared_.messages = &messages_;
  shared_.tickets = options_.count > 0 ? options_.count : LLONG_MAX;
  shared_.connections = options_.connections;
  // Connection i goes to thread i % threads: every thread gets its share.
  std::vector<std::vector<size_t>> groups(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.connections; ++i) groups[static_cast<size_t>(i % options_.threads)].push_back(i);
  for (auto& group : groups) clients_.push_back(std::make_unique<ClientThread>(shared_, std::move(group)));
  errors_.resize(clients_.size());
}

Engine::~Engine() {
  // Only after a failed start: finish() has joined every thread otherwise.
  bool running = false;
  for (auto& t : threads_) running = running || t.joinable();
  if (running) request_stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

bool Engine::start(std::string* error) {
  start_cpu_ = cpu_seconds();
  start_ns_ = now_ns();
  if (options_.duration > 0) shared_.stop_new_ns = start_ns_ + static_cast<int64_t>(options_.duration * 1e9);
  shared_.deadline_ns = start_ns_ + static_cast<int64_t>(options_.deadline * 1e9);
  for (size_t i = 0; i < clients_.size(); ++i) {
    try {
      threads_.emplace_back([this, i] {
        clients_[i]->run(&errors_[i]);
        std::lock_guard lock(mutex_);
        ++finished_;
        done_.notify_all();
      });
    } catch (const std::system_error& e) {
      *error = std::string("cannot start a client thread: ") + e.what();
      return false;
    }
  }
  return true;
}

bool Engine::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, timeout, [this] { return finished_ == clients_.size(); });
}

double Engine::elapsed_seconds() const { return static_cast<double>(now_ns() - start_ns_) / 1e9; }

uint64_t Engine::completed() const {
  uint64_t sum = 0;
  for (const auto& c : clients_) sum += c->live_completed.load(std::memory_order_relaxed);
  return sum;
}

uint64_t Engine::errors() const {
  uint64_t sum = 0;
  for (const auto& c : clients_) sum += c->live_errors.load(std::memory_order_relaxed);
  return sum;
}

RunResult Engine::finish() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  int64_t end_ns = now_ns();
  RunResult result;
  for (size_t i = 0; i < clients_.size(); ++i) {
    result.tally.merge(clients_[i]->tally());
    if (result.error.empty()) result.error = errors_[i];
  }
  int64_t last = result.tally.completed > 0 ? result.tally.last_reply_ns : end_ns;
  result.seconds = static_cast<double>(last - start_ns_) / 1e9;
  result.cpu_seconds = cpu_seconds() - start_cpu_;
  result.threads = static_cast<int>(clients_.size());
  return result;
}

}  // namespace wsbench
