#include "soak_config.hpp"

namespace soak {

std::vector<std::string> strip_config_variants(bool ipv6) {
  std::string common = std::string("listen = [\"127.0.0.1:0\", \"udp:127.0.0.1:0\", \"unix:{dir}/strip.socket\"") +
                       (ipv6 ? ", \"[::1]:0\"" : "") +
                       "]\n"
                       "service = strip\n"
                       "min_spare = 2\n"
                       "max_spare = 8\n"
                       "max_workers = 32\n"
                       "overflow = queue\n"
                       "access_log = \"{dir}/strip-access.log\"\n";
  return {common + "workers = 8\nmax_requests = 0\n", common + "workers = 6\nmax_requests = 50\n"};
}

std::vector<std::string> chat_config_variants() {
  std::string common = "listen = [\"127.0.0.1:0\", \"unix:{dir}/chat.socket\"]\n"
                       "service = chat\n"
                       "reply_terminator = lf\n"
                       "min_spare = 2\n"
                       "max_spare = 6\n"
                       "max_workers = 8\n"
                       "overflow = reject\n"
                       "max_message = " + std::to_string(chat_max_message) + "\n"
                       "chat_backlog = " + std::to_string(chat_backlog) + "\n"
                       "access_log = \"{dir}/chat-access.log\"\n";
  return {common + "workers = 6\n", common + "workers = 8\n"};
}

}  // namespace soak
