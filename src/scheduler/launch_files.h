// Files a launch line names, as the host sees them: shared by the caches keyed on what a
// runtime's start reads (java_cache.h, node_snapshots.h).
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"
#include "sandbox/sandbox.h"

namespace kindling::scheduler {

// A path of `spec`'s sandbox view as the host sees it: under /var/task, /var/runtime,
// /var/lang, /opt or an extra read-only bind, its source; anything else (system directories
// bound at the same path) unchanged; `inside` itself when not `isolated`. Pure.
std::filesystem::path hostPath(const sandbox::SpawnSpec& spec, const std::filesystem::path& inside,
                               bool isolated);

// "<size>:<mtime s>.<mtime ns>" of a file, what tells a rebuilt file from the old one.
Result<std::string> fileStamp(const std::filesystem::path& path);

}  // namespace kindling::scheduler
