// Zip packaging for deployment packages: safe extraction of untrusted uploads and deterministic
// zipping of a directory tree (tests, tooling). Built on libarchive. Extraction is where
// untrusted bytes meet the filesystem, so it refuses anything that could write outside the
// destination (absolute paths, '..', escaping symlinks, hardlinks, devices/fifos) and stops as
// soon as the unzipped byte budget is spent (zip bombs), before writing the excess.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kindling::store {

// AWS's message for an archive that cannot be read (InvalidParameterValueException).
inline constexpr std::string_view kUnzipFailedMessage =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

// Extracts a zip held in memory into `dest` (must not exist; created with mode 0755).
// Refuses entries with absolute paths or '..' (zip-slip), device/fifo/socket entries, hardlinks,
// symlinks whose target leaves the tree; keeps the permission bits (minus setuid/setgid/sticky),
// so a provided runtime's `bootstrap` stays executable; enforces max_unzipped_bytes (sum of the
// regular files' sizes). Errors: ErrorCode::InvalidZip (kUnzipFailedMessage) for a broken
// archive, ErrorCode::InvalidZip naming the entry for an unsafe entry, ErrorCode::InvalidArgument
// "Unzipped size must be smaller than <max> bytes", ErrorCode::Io for filesystem failures.
// On error, `dest` is removed again. `unzipped_bytes_out` may be null.
// Thread-safe (no shared state); concurrent calls must use different `dest`.
Status extractZip(std::string_view zip_bytes, const std::filesystem::path& dest,
                  uint64_t max_unzipped_bytes, uint64_t* unzipped_bytes_out);

// Sum of the uncompressed sizes of the regular files in a zip, read from the headers without
// inflating anything. ErrorCode::InvalidZip for a broken archive. Thread-safe.
Result<uint64_t> zipUnzippedSize(std::string_view zip_bytes);

// Zips a directory tree (regular files, dirs, symlinks; other types are skipped), preserving
// permission bits and mtimes; entries in byte-wise sorted path order, so the same tree gives the
// same bytes. Paths in the zip are relative to `dir`. Thread-safe.
Result<std::string> zipDirectory(const std::filesystem::path& dir);

}  // namespace kindling::store
