// wsserver-soak: a bounded chaos soak (make soak). Two servers, one strip
// and one chat (a server serves one service, and the two exercise
// different paths: streaming replies in a blocking loop, and pushed output
// through the shared ring), take a mixed load from client threads while a
// chaos thread kills workers, reloads and resizes the pools. Every reply is
// checked; the only failures allowed are the clients of killed workers.
// Afterwards the pools must be idle, without zombies, with descriptors and
// the masters' memory back to their baseline and a log without surprises.
//
//   wsserver-soak --wsserver build/wsserver [--seconds 60] [--dir build/soak]
//                 [--seed N] [--strip-clients 12] [--chat-clients 4]
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../support/client.hpp"
#include "aftermath.hpp"
#include "chaos.hpp"
#include "chat_client.hpp"
#include "ledger.hpp"
#include "soak_config.hpp"
#include "strip_client.hpp"

using namespace soak;

namespace {

struct Options {
  std::string wsserver = "build/wsserver";
  std::string dir = "build/soak";
  int seconds = 60;
  int warmup = 5;
  unsigned long seed = 0;
  int strip_clients = 12;
  int chat_clients = 4;
};

Options parse(int argc, char** argv) {
  Options o;
  o.seed = static_cast<unsigned long>(Clock::now().time_since_epoch().count());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--wsserver") o.wsserver = value;
    else if (key == "--dir") o.dir = value;
    else if (key == "--seconds") o.seconds = std::atoi(value.c_str());
    else if (key == "--warmup") o.warmup = std::atoi(value.c_str());
    else if (key == "--seed") o.seed = std::strtoul(value.c_str(), nullptr, 10);
    else if (key == "--strip-clients") o.strip_clients = std::atoi(value.c_str());
    else if (key == "--chat-clients") o.chat_clients = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "wsserver-soak: unknown option %s\n", key.c_str());
      std::exit(64);
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "wsserver-soak: %s needs a value\n", argv[argc - 1]);
    std::exit(64);
  }
  return o;
}


// "127.0.0.1:9000", "[::1]:9000", "unix:/path" as -s status lists them.
Endpoint endpoint_of(const std::string& text, Endpoint::Kind kind) {
  Endpoint e;
  e.kind = kind;
  if (text.rfind("unix:", 0) == 0) {
    e.kind = Endpoint::unix_stream;
    e.path = text.substr(5);
    return e;
  }
  size_t colon = text.rfind(':');
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  e.port = static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1));
  return e;
}

// Client threads and the chaos thread, all until `seconds` from now.
void run_phase(const Options& o, int seconds, const StripTargets& strip, const ChatTargets& chat,
               const std::vector<SoakServer*>& servers, Ledger& ledger, unsigned long seed) {
  auto until = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.strip_clients; ++i)
    threads.emplace_back([&, i] {
      Rng rng(seed * 1000 + static_cast<unsigned long>(i));
      while (Clock::now() < until) run_strip_client(strip, ledger, rng);
    });
  for (int i = 0; i < o.chat_clients; ++i)
    threads.emplace_back([&, i] {
      Rng rng(seed * 1000 + 500 + static_cast<unsigned long>(i));
      while (Clock::now() < until) run_chat_client(chat, ledger, rng);
    });
  threads.emplace_back([&] {
    Rng rng(seed * 1000 + 999);
    run_chaos(servers, ledger, rng, until);
  });
  for (auto& t : threads) t.join();
}

void print_map(const char* title, const std::map<std::string, long>& m) {
  std::printf("%s%s\n", title, m.empty() ? " none" : "");
  for (const auto& [name, n] : m) std::printf("  %-58s %ld\n", name.c_str(), n);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  std::filesystem::remove_all(o.dir, ec);
  std::filesystem::create_directories(o.dir);
  std::string dir = std::filesystem::absolute(o.dir).string();
  std::string binary = std::filesystem::absolute(o.wsserver).string();
  std::printf("soak: %d s (after a %d s warm-up), seed %lu, %d strip and %d chat client threads, files in %s\n",
              o.seconds, o.warmup, o.seed, o.strip_clients, o.chat_clients, dir.c_str());
  std::fflush(stdout);

  bool ipv6 = test::have_ipv6_loopback();
  SoakServer strip_server("strip", binary, dir, strip_config_variants(ipv6));
  SoakServer chat_server("chat", binary, dir, chat_config_variants());
  std::vector<SoakServer*> servers{&strip_server, &chat_server};
  for (auto* s : servers) {
    std::string error;
    if (!s->start(&error)) {
      std::fprintf(stderr, "wsserver-soak: %s\n", error.c_str());
      return 2;
    }
  }
  StripTargets strip{0, {}, {}};
  for (const auto& l : strip_server.listeners()) {
    bool udp = l == strip_server.listeners().at(strip_udp_listener_index);
    (udp ? strip.datagrams : strip.streams).push_back(endpoint_of(l, udp ? Endpoint::udp : Endpoint::tcp));
  }
  ChatTargets chat{1, {}, chat_max_message, chat_backlog, chat_server.access_log_path()};
  for (const auto& l : chat_server.listeners()) chat.streams.push_back(endpoint_of(l, Endpoint::tcp));

  Ledger ledger;
  Findings findings;
  // The warm-up makes the masters do everything once (reload included), so
  // the baseline is taken from masters that have.
  for (auto* s : servers) s->reload();
  run_phase(o, o.warmup, strip, chat, servers, ledger, o.seed);
  if (!settle(servers, 30s)) findings.problems.push_back("the pools were not idle 30 s after the warm-up");
  Baseline baseline = take_baseline(servers);

  auto started = Clock::now();
  run_phase(o, o.seconds, strip, chat, servers, ledger, o.seed + 1);
  double loaded = std::chrono::duration<double>(Clock::now() - started).count();
  if (!settle(servers, 30s)) findings.problems.push_back("the pools were not idle 30 s after the load");
  Findings after = check_aftermath(servers, baseline, {false, true});
  findings.problems.insert(findings.problems.end(), after.problems.begin(), after.problems.end());
  findings.notes = after.notes;

  for (auto* s : servers) {
    auto status = s->stop(45s);
    if (status != 0)
      findings.problems.push_back(s->name() + ": graceful stop " +
                                  (status ? "exited " + std::to_string(*status) : std::string("timed out")));
    check_log(*s, findings);
  }
  for (int z : zombies_of(getpid(), 2000ms)) findings.problems.push_back("zombie child " + std::to_string(z));

  std::printf("soak: load ran %.1f s (plus the warm-up), figures cover both\n", loaded);
  print_map("figures:", ledger.figures());
  print_map("failures explained (clients of killed workers, by design):", ledger.excused());
  print_map("failures unexplained:", ledger.failures());
  for (const auto& d : ledger.failure_details()) std::printf("  ! %s\n", d.c_str());
  std::printf("aftermath:\n");
  for (const auto& n : findings.notes) std::printf("  %s\n", n.c_str());
  for (const auto& p : findings.problems) std::printf("  PROBLEM: %s\n", p.c_str());
  bool ok = ledger.unexplained() == 0 && findings.problems.empty();
  std::printf("soak: %s (seed %lu)\n", ok ? "PASS" : "FAIL", o.seed);
  return ok ? 0 : 1;
}
