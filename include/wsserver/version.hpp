// version.hpp: the release version, shown by -V, logs and status.
#pragma once

namespace ws {
inline constexpr const char* version = "0.1.0";
}
