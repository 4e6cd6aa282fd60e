// Helpers the benchmark programs share: timing, reading files, packaging a deployment zip.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/result.h"

namespace kindling::bench {

// Microseconds between two steady-clock points. Pure.
inline double elapsedUs(std::chrono::steady_clock::time_point from,
                        std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// The whole file. Thread-safe.
Result<std::string> readFile(const std::filesystem::path& path);

// A deployment package as base64: a directory is zipped; a zip file is taken as is; any other
// file is zipped alone as an executable `bootstrap`. Thread-safe (own temp dir).
Result<std::string> packageBase64(const std::filesystem::path& path);

}  // namespace kindling::bench
