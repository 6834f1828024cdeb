#include "report.hpp"

#include <unistd.h>

#include <cstdio>

namespace wsbench {
namespace {

constexpr double mib = 1024.0 * 1024.0;
constexpr double progress_after_seconds = 2;

const char* unit_of(Mode mode) {
  switch (mode) {
    case Mode::connrate:
    case Mode::hold: return "connections/s";
    case Mode::bulk: return "MiB/s";
    case Mode::pingpong:
    case Mode::ready:
    case Mode::chat: break;
  }
  return "messages/s";
}

const char* noun_of(Mode mode) {
  switch (mode) {
    case Mode::connrate: return "connections";
    case Mode::hold: return "held connections answered";
    case Mode::bulk: return "bulk messages";
    case Mode::pingpong:
    case Mode::ready:
    case Mode::chat: break;
  }
  return "messages";
}

double safe_div(double a, double b) { return b > 0 ? a / b : 0; }

// The headline figure: messages or connections per second; bulk: MiB/s of
// message bytes (each counted once, when its reply is complete).
double rate_of(const RunShape& shape, const RunResult& r) {
  double per_second = safe_div(static_cast<double>(r.tally.completed), r.seconds);
  if (shape.options->mode == Mode::bulk) return per_second * static_cast<double>(shape.message_bytes) / mib;
  return per_second;
}

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string describe_size(const RunShape& shape) {
  const Options& o = *shape.options;
  if (o.mode == Mode::bulk) return std::to_string(o.bulk_mib) + " MiB messages";
  return std::to_string(o.size) + "-byte messages";
}

}  // namespace

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') out += std::string("\\") + c;
    else if (b < 0x20 || b >= 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", b);
      out += esc;
    } else out += c;
  }
  return out + "\"";
}

void print_report(const RunShape& shape, const RunResult& r) {
  const Options& o = *shape.options;
  const Tally& t = r.tally;
  std::printf("%s: %s, %d connection%s, %s, %d thread%s\n", mode_name(o.mode), shape.target->name.c_str(),
              o.connections, o.connections == 1 ? "" : "s", describe_size(shape).c_str(), r.threads,
              r.threads == 1 ? "" : "s");
  std::printf("  %llu %s in %.3f s: %.1f %s (%.1f MiB/s sent, %.1f MiB/s received)\n",
              static_cast<unsigned long long>(t.completed), noun_of(o.mode), r.seconds, rate_of(shape, r),
              unit_of(o.mode), safe_div(static_cast<double>(t.bytes_sent), r.seconds) / mib,
              safe_div(static_cast<double>(t.bytes_received), r.seconds) / mib);
  std::printf("  latency (us): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us(t.latency.quantile(0.5)),
              us(t.latency.quantile(0.99)), us(t.latency.quantile(0.999)), us(t.latency.max()));
  std::printf("  errors: %llu (mismatches %llu, early closes %llu, failed connects %llu, other %llu); "
              "unanswered connections: %llu\n",
              static_cast<unsigned long long>(t.errors()), static_cast<unsigned long long>(t.mismatches),
              static_cast<unsigned long long>(t.early_closes), static_cast<unsigned long long>(t.connect_failures),
              static_cast<unsigned long long>(t.io_errors), static_cast<unsigned long long>(t.unanswered));
  std::printf("  wsbench CPU: %.0f%% of one core\n", 100 * safe_div(r.cpu_seconds, r.seconds));
}

void print_json(const RunShape& shape, const RunResult& r) {
  const Options& o = *shape.options;
  const Tally& t = r.tally;
  std::printf(
      "{\"mode\":\"%s\",\"target\":%s,\"connections\":%d,\"threads\":%d,\"message_bytes\":%llu,"
      "\"completed\":%llu,\"seconds\":%.6f,\"rate\":%.3f,\"unit\":\"%s\",\"sent_mib_per_s\":%.3f,"
      "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
      "\"errors\":%llu,\"mismatches\":%llu,\"early_closes\":%llu,\"connect_failures\":%llu,\"io_errors\":%llu,"
      "\"unanswered\":%llu,\"cpu_seconds\":%.3f,\"first_problem\":%s,\"ok\":%s}\n",
      mode_name(o.mode), json_string(shape.target->name).c_str(), o.connections, r.threads,
      static_cast<unsigned long long>(shape.message_bytes), static_cast<unsigned long long>(t.completed), r.seconds,
      rate_of(shape, r), unit_of(o.mode), safe_div(static_cast<double>(t.bytes_sent), r.seconds) / mib,
      us(t.latency.quantile(0.5)), us(t.latency.quantile(0.99)), us(t.latency.quantile(0.999)), us(t.latency.max()),
      static_cast<unsigned long long>(t.errors()), static_cast<unsigned long long>(t.mismatches),
      static_cast<unsigned long long>(t.early_closes), static_cast<unsigned long long>(t.connect_failures),
      static_cast<unsigned long long>(t.io_errors), static_cast<unsigned long long>(t.unanswered), r.cpu_seconds,
      json_string(t.first_problem).c_str(), t.errors() == 0 && t.unanswered == 0 && r.error.empty() ? "true" : "false");
}

void print_ready(const Options& o, const Target& target, const ReadyResult& r) {
  if (o.json) {
    std::printf("{\"mode\":\"ready\",\"target\":%s,\"answered\":%s,\"seconds\":%.6f,\"attempts\":%d,"
                "\"mismatch\":%s,\"problem\":%s,\"ok\":%s}\n",
                json_string(target.name).c_str(), r.answered ? "true" : "false", r.seconds, r.attempts,
                r.mismatch ? "true" : "false", json_string(r.answered ? "" : r.problem).c_str(),
                r.answered ? "true" : "false");
    return;
  }
  if (r.answered)
    std::printf("ready: %s answered after %.3f ms (%d connection%s tried)\n", target.name.c_str(), r.seconds * 1000,
                r.attempts, r.attempts == 1 ? "" : "s");
  else
    std::printf("ready: no correct answer from %s: %s (%d connection%s tried)\n", target.name.c_str(),
                r.problem.c_str(), r.attempts, r.attempts == 1 ? "" : "s");
}

ProgressLine::ProgressLine(const Options& options) : enabled_(!options.quiet && isatty(STDERR_FILENO)) {}

void ProgressLine::update(const Engine& engine) {
  double seconds = engine.elapsed_seconds();
  if (!enabled_ || seconds < progress_after_seconds) return;
  uint64_t completed = engine.completed();
  double recent = safe_div(static_cast<double>(completed - last_completed_), seconds - last_seconds_);
  std::fprintf(stderr, "\r\033[K%.0f s: %llu done, %.0f/s now, %llu errors", seconds,
               static_cast<unsigned long long>(completed), recent, static_cast<unsigned long long>(engine.errors()));
  std::fflush(stderr);
  shown_ = true;
  last_completed_ = completed;
  last_seconds_ = seconds;
}

void ProgressLine::clear() {
  if (shown_) std::fputs("\r\033[K", stderr);
  shown_ = false;
}

}  // namespace wsbench
