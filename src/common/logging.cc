#include "common/logging.h"

namespace kindling {
void setLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }
}  // namespace kindling
