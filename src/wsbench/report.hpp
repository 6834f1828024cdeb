// report.hpp: what a run found, for people (text, progress line) and for
// machines (one JSON object).
#pragma once

#include <string>

#include "engine.hpp"
#include "options.hpp"
#include "ready.hpp"
#include "target.hpp"

namespace wsbench {

// The run's size in words: "64 connections, 64-byte messages".
struct RunShape {
  const Options* options;
  const Target* target;
  uint64_t message_bytes;  // bytes on the wire per message
};

// `s` as a JSON string, quotes included.
std::string json_string(const std::string& s);

void print_report(const RunShape& shape, const RunResult& result);
void print_json(const RunShape& shape, const RunResult& result);
void print_ready(const Options& options, const Target& target, const ReadyResult& result);

// A line on stderr, rewritten in place, for runs that last.
class ProgressLine {
 public:
  explicit ProgressLine(const Options& options);
  void update(const Engine& engine);
  void clear();

 private:
  bool enabled_;
  bool shown_ = false;
  uint64_t last_completed_ = 0;
  double last_seconds_ = 0;
};

}  // namespace wsbench
