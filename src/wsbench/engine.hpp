// engine.hpp: a load run: splits the connections over client threads,
// starts them, lets the caller watch progress, and merges their tallies.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_thread.hpp"

namespace wsbench {

struct RunResult {
  Tally tally;
  double seconds = 0;      // start to the last reply (to the end if none came)
  double cpu_seconds = 0;  // wsbench's own user + system time during the run
  int threads = 0;
  std::string error;       // a thread that could not run
};

class Engine {
 public:
  Engine(const Options& options, const Target& target, std::vector<Message> messages);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts every thread; false with *error if one cannot be created.
  bool start(std::string* error);
  // Waits up to `timeout`; true once every thread has finished.
  bool wait(std::chrono::milliseconds timeout);
  double elapsed_seconds() const;
  uint64_t completed() const;
  uint64_t errors() const;
  // Joins the threads and merges what they counted.
  RunResult finish();

 private:
  const Options& options_;
  Target target_;
  std::vector<Message> messages_;
  Shared shared_;
  int64_t start_ns_ = 0;
  double start_cpu_ = 0;
  std::vector<std::unique_ptr<ClientThread>> clients_;
  std::vector<std::thread> threads_;
  std::vector<std::string> errors_;
  std::mutex mutex_;
  std::condition_variable done_;
  size_t finished_ = 0;
};

}  // namespace wsbench
