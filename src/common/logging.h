// Daemon logging (spdlog). Log lines name the operation, its arguments and errno:
//   openat(cgroup=/kindling/env-42, "memory.max"): EACCES
#pragma once

#include <spdlog/spdlog.h>

namespace kindling {
// Sets the global level from a name ("debug", "info", "warn", ...).
void setLogLevel(const std::string& level);
}  // namespace kindling
