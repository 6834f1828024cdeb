// soak_config.hpp: the two servers' configurations. Reloads alternate
// between two variants of each (pool size, max_requests), so that a reload
// really starts a different pool; the listeners stay, so no client is
// refused across it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace soak {

// strip: tcp (IPv4, and IPv6 where the kernel has it), unix and udp
// listeners, overflow = queue, an access log.
std::vector<std::string> strip_config_variants(bool ipv6);
inline constexpr size_t strip_udp_listener_index = 1;

// chat: tcp and unix listeners, overflow = reject with a small max_workers
// (the master's hand-off path), a small chat_backlog (slow readers are cut).
std::vector<std::string> chat_config_variants();
inline constexpr size_t chat_max_message = 4096;
// Under the 64 KiB a worker reads at once, so that one read can hold more
// of a client's own messages than its backlog (chat_client.hpp's burster).
inline constexpr size_t chat_backlog = 32768;

}  // namespace soak
