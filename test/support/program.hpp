// program.hpp: run another program of the project (wsbench...) to completion
// with a deadline, its output kept for the test to read.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace test {

using namespace std::chrono_literals;

struct ProgramResult {
  int status = -1;  // exit status, 128 + signal, or -1 if killed at the deadline
  std::string out, err;
};

// Runs argv[0] with the rest as arguments, stdin from /dev/null, in its own
// process group; past `timeout` the group is killed.
ProgramResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 30s);

// The wsbench binary: $WSBENCH, else build/wsbench.
std::string wsbench_binary();

// A number in a one-line JSON object: the value after "key":, or -1.
double json_number(const std::string& json, const std::string& key);

}  // namespace test
