#include "chat_report.hpp"

#include <cstdio>
#include <string>

#include "report.hpp"

namespace wsbench {
namespace {

constexpr double mib = 1024.0 * 1024.0;

double per_second(double n, double seconds) { return seconds > 0 ? n / seconds : 0; }
double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }
unsigned long long ull(uint64_t n) { return static_cast<unsigned long long>(n); }

// Copies the clients should have got: every sent message, once per client
// other than its sender (fewer when clients were lost: see the errors).
uint64_t expected_copies(const Options& o, const ChatResult& r) {
  return r.counts.sent * static_cast<uint64_t>(o.connections - 1);
}

std::string pacing(const Options& o) {
  std::string text = "window " + std::to_string(o.window);
  if (o.rate > 0) {
    char rate[64];
    std::snprintf(rate, sizeof rate, ", %g messages/s per client", o.rate);
    text += rate;
  }
  return text;
}

std::string latency_json(const Histogram& h) {
  char text[160];
  std::snprintf(text, sizeof text, "{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", us(h.quantile(0.5)),
                us(h.quantile(0.99)), us(h.quantile(0.999)), us(h.max()));
  return text;
}

void print_timed(const Options& o, const ChatResult& r) {
  const ChatCounts& c = r.counts;
  std::printf("  %llu messages sent; %llu of %llu copies delivered in %.3f s: %.1f deliveries/s, "
              "%.1f messages/s fanned out (%.1f MiB/s received)\n",
              ull(c.sent), ull(c.deliveries), ull(expected_copies(o, r)), r.seconds,
              per_second(static_cast<double>(c.deliveries), r.seconds),
              per_second(static_cast<double>(c.completed), r.seconds),
              per_second(static_cast<double>(r.bytes_received), r.seconds) / mib);
  const Histogram& each = r.delivery_latency;
  const Histogram& last = r.fan_out_latency;
  std::printf("  send to each copy (us): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us(each.quantile(0.5)),
              us(each.quantile(0.99)), us(each.quantile(0.999)), us(each.max()));
  std::printf("  send to last copy (us): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us(last.quantile(0.5)),
              us(last.quantile(0.99)), us(last.quantile(0.999)), us(last.max()));
}

}  // namespace

void print_chat_report(const Options& o, const Target& target, const ChatResult& r) {
  const ChatCounts& c = r.counts;
  std::printf("chat: %s, %d clients x %lld messages, %zu-byte messages, %s, 1 thread\n", target.name.c_str(),
              o.connections, o.count, o.size, pacing(o).c_str());
  if (r.joined) {
    std::printf("  join: every client heard every other after %.1f ms\n", r.join_seconds * 1000);
    print_timed(o, r);
  } else {
    std::printf("  join: incomplete, no message sent\n");
  }
  std::printf("  errors: %llu (too slow %llu, other notices %llu, early closes %llu, failed connects %llu, "
              "other %llu; bad lines %llu, own copies %llu, duplicates %llu, out of order %llu, missing %llu, "
              "unsent %llu, order conflicts %llu)\n",
              ull(r.errors()), ull(r.too_slow), ull(r.notices), ull(r.early_closes), ull(r.connect_failures),
              ull(r.io_errors), ull(c.bad_lines), ull(c.own_copies), ull(c.duplicates), ull(c.out_of_order),
              ull(r.missing), ull(r.unsent), ull(r.order_conflicts));
  if (r.joined && r.errors() == 0)
    std::printf("  checked: every copy once, none to its sender, each sender's order, one global order\n");
  std::printf("  wsbench CPU: %.1f s\n", r.cpu_seconds);
}

void print_chat_json(const Options& o, const Target& target, const ChatResult& r) {
  const ChatCounts& c = r.counts;
  bool ok = r.joined && r.errors() == 0 && r.error.empty();
  std::printf(
      "{\"mode\":\"chat\",\"target\":%s,\"clients\":%d,\"messages_per_client\":%lld,\"message_bytes\":%zu,"
      "\"window\":%d,\"rate_per_client\":%g,\"joined\":%s,\"join_ms\":%.3f,\"sent\":%llu,\"deliveries\":%llu,"
      "\"expected_deliveries\":%llu,\"completed\":%llu,\"seconds\":%.6f,\"rate\":%.3f,\"unit\":\"deliveries/s\","
      "\"messages_per_s\":%.3f,\"received_mib_per_s\":%.3f,\"delivery_latency_us\":%s,\"fan_out_latency_us\":%s,"
      "\"errors\":%llu,\"too_slow\":%llu,\"notices\":%llu,\"early_closes\":%llu,\"connect_failures\":%llu,"
      "\"io_errors\":%llu,\"bad_lines\":%llu,\"own_copies\":%llu,\"duplicates\":%llu,\"out_of_order\":%llu,"
      "\"missing\":%llu,\"unsent\":%llu,\"order_conflicts\":%llu,\"cpu_seconds\":%.3f,\"first_problem\":%s,"
      "\"ok\":%s}\n",
      json_string(target.name).c_str(), o.connections, o.count, o.size, o.window, o.rate, r.joined ? "true" : "false",
      r.join_seconds * 1000, ull(c.sent), ull(c.deliveries), ull(expected_copies(o, r)), ull(c.completed), r.seconds,
      per_second(static_cast<double>(c.deliveries), r.seconds), per_second(static_cast<double>(c.completed), r.seconds),
      per_second(static_cast<double>(r.bytes_received), r.seconds) / mib, latency_json(r.delivery_latency).c_str(),
      latency_json(r.fan_out_latency).c_str(), ull(r.errors()), ull(r.too_slow), ull(r.notices), ull(r.early_closes),
      ull(r.connect_failures), ull(r.io_errors), ull(c.bad_lines), ull(c.own_copies), ull(c.duplicates),
      ull(c.out_of_order), ull(r.missing), ull(r.unsent), ull(r.order_conflicts), r.cpu_seconds,
      json_string(r.first_problem).c_str(), ok ? "true" : "false");
}

}  // namespace wsbench
