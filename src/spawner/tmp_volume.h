// Disk-backed, size-limited /tmp for one environment: a sparse image file formatted ext4 (no
// journal: /tmp is ephemeral) and attached to a loop device with autoclear. The image is
// unlinked as soon as the loop device holds it, so its space is freed when the environment's
// mount namespace (the last user) goes away, even if the daemon dies. Unlike a tmpfs, its pages
// are not charged to the environment's memory limit as unreclaimable memory: a 64 MB function
// writing 200 MB gets ENOSPC at its ephemeral size, not an OOM kill (Lambda's behaviour).
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"
#include "sys/unique_fd.h"

namespace kindling::spawner {

struct TmpVolume {
  std::string device;       // /dev/loopN
  int size_mb = 0;
  sys::UniqueFd loop_fd;    // keeps the device attached until the environment has mounted it
};

// Creates an image of size_mb under dir, formatted (a sparse copy of a template formatted once
// per size, else mkfs.ext4), and attaches it. Thread-safe.
Result<TmpVolume> makeTmpVolume(const std::filesystem::path& dir, int size_mb);

}  // namespace kindling::spawner
