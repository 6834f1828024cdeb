// How make valgrind's vg-check reads a valgrind log and judges a worker's
// descriptors at exit.
#include <catch2/catch.hpp>

#include "../valgrind/vg_log.hpp"

namespace {

const char* header =
    "==42== Memcheck, a memory error detector\n"
    "==42== Command: /x/build/wsserver -c /tmp/t/wsserver.conf --listen 127.0.0.1:0\n"
    "==42== Parent PID: 41\n"
    "==42== \n";

const char* worker_fds =
    "==42== FILE DESCRIPTORS: 7 open (3 std) at exit.\n"
    "==42== Open file descriptor 4:\n"
    "==42==    at 0x4BA0BE7: epoll_create1 (syscall-template.S:120)\n"
    "==42==    by 0x16EC3F: set_up (worker.cpp:87)\n"
    "==42==    by 0x16EC3F: ws::run_worker(ws::WorkerSetup const&) (worker.cpp:291)\n"
    "==42== \n"
    "==42== Open AF_INET socket 5: 127.0.0.1:36237 <-> unbound\n"
    "==42==    at 0x4BA1DC7: socket (syscall-template.S:120)\n"
    "==42==    by 0x153D9C: ws::open_listener(ws::ListenAddress const&, int, std::string*) (listener.cpp:137)\n"
    "==42== \n"
    "==42== Open AF_UNIX socket 9: <unknown>\n"
    "==42==    at 0x4BA1DFA: socketpair (syscall-template.S:120)\n"
    "==42==    by 0x1518CE: ws::open_handoff(ws::Handoff*) (handoff.cpp:13)\n"
    "==42== \n"
    "==42== Open file descriptor 6: /tmp/t/access.log\n"
    "==42==    at 0x4B9A1D3: open (open64.c:41)\n"
    "==42==    by 0x15D0A2: open_log_file (log.cpp:38)\n"
    "==42== \n"
    "==42== Open file descriptor 3: /x/build/valgrind/logs/vg.41.log\n"
    "==42==    <inherited from parent>\n"
    "==42== \n";

const char* overflow_client =
    "==42== Open AF_INET socket 10: 127.0.0.1:43835 <-> 127.0.0.1:41306\n"
    "==42==    at 0x4BA1F63: accept4 (accept4.c:31)\n"
    "==42==    by 0x158945: ws::Master::take_overflow(int) (master.cpp:323)\n"
    "==42==    by 0x15EE04: ws::Master::run() (master.cpp:110)\n"
    "==42== \n";

const char* clean_exit =
    "==42== \n"
    "==42== HEAP SUMMARY:\n"
    "==42==     in use at exit: 67,281 bytes in 24 blocks\n"
    "==42== \n"
    "==42== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)\n";

}  // namespace

TEST_CASE("vg-check: a worker with only its own descriptors passes") {
  auto log = vg::parse_log(std::string(header) + worker_fds + clean_exit);
  CHECK(log.pid == 42);
  CHECK(log.parent == 41);
  CHECK(log.reported);
  CHECK(log.errors == 0);
  CHECK(log.fds.size() == 5);
  CHECK(vg::is_worker(log));
  CHECK(vg::worker_fd_problems(log).empty());
}

TEST_CASE("vg-check: a worker holding a client the master accepted is named") {
  auto log = vg::parse_log(std::string(header) + worker_fds + overflow_client + clean_exit);
  auto problems = vg::worker_fd_problems(log);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::StartsWith("fd 10 (AF_INET socket 10: 127.0.0.1:43835 <-> 127.0.0.1:41306)") &&
                              Catch::Contains("accept4 < ws::Master::take_overflow(int)"));
}

TEST_CASE("vg-check: both ends of the hand-off pair in a worker are named") {
  std::string second =
      "==42== Open AF_UNIX socket 8: <unknown>\n"
      "==42==    at 0x4BA1DFA: socketpair (syscall-template.S:120)\n"
      "==42==    by 0x1518CE: ws::open_handoff(ws::Handoff*) (handoff.cpp:13)\n"
      "==42== \n";
  auto log = vg::parse_log(std::string(header) + worker_fds + second + clean_exit);
  auto problems = vg::worker_fd_problems(log);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("both ends of the hand-off socket pair"));
}

TEST_CASE("vg-check: the master is not judged as a worker, errors and leaks are counted") {
  std::string errors =
      "==42== Invalid read of size 4\n"
      "==42==    at 0x10915A: main (t.cpp:5)\n"
      "==42==  Address 0x4a8d068 is 0 bytes after a block of size 40 alloc'd\n"
      "==42== \n"
      "==42== Warning: invalid file descriptor 977 in syscall close()\n"
      "==42== \n"
      "==42== FILE DESCRIPTORS: 3 open (3 std) at exit.\n"
      "==42== \n"
      "==42== HEAP SUMMARY:\n"
      "==42== \n"
      "==42== 8 bytes in 1 blocks are definitely lost in loss record 1 of 1\n"
      "==42==    at 0x483877F: malloc (vg_replace_malloc.c:307)\n"
      "==42== \n"
      "==42== LEAK SUMMARY:\n"
      "==42==    definitely lost: 8 bytes in 1 blocks\n"
      "==42== \n"
      "==42== ERROR SUMMARY: 2 errors from 2 contexts (suppressed: 0 from 0)\n";
  auto log = vg::parse_log(std::string(header) + errors);
  CHECK_FALSE(vg::is_worker(log));
  CHECK(log.errors == 2);
  CHECK(log.fd_warnings.size() == 1);
  std::string shown;
  for (const auto& l : log.error_lines) shown += l + "\n";
  CHECK_THAT(shown, Catch::Contains("Invalid read of size 4") && Catch::Contains("are definitely lost") &&
                        !Catch::Contains("LEAK SUMMARY"));
}

TEST_CASE("vg-check: a process killed before its exit report is told apart") {
  auto log = vg::parse_log(std::string(header));
  CHECK_FALSE(log.reported);
}
