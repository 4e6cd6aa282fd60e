// Per-function log streams on disk: <root>/<function>/<stream name as nested dirs>, e.g.
// <root>/my-fn/2026/11/26/[$LATEST]<32 hex>. The file system is the index (no in-memory catalogue
// to keep consistent across restarts); streams are ordered by last write time, and opening a new
// stream prunes the least recently written ones beyond the per-function limit. What a cold start
// would otherwise redo each time is remembered per function in memory (the directory it last
// created, an upper bound of its stream count), so the directory is listed only when the limit
// may be exceeded. Names coming from
// requests are validated here, so a stream name can never reach outside <root>/<function>.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "observe/log_stream.h"

namespace kindling::observe {

class LogStore {  // thread-safe
 public:
  // Does no I/O; directories are created on first openStream(). Thread-safe.
  LogStore(std::filesystem::path root, uint64_t max_stream_bytes, size_t max_streams_per_function);

  // Creates (or reopens for appending) a stream file for a function and prunes the least recently
  // written streams beyond the limit (never the one just opened). InvalidArgument on a bad
  // function or stream name. Thread-safe (serialised with other mutations).
  Result<std::unique_ptr<LogStream>> openStream(std::string_view function,
                                                std::string_view stream_name);

  struct StreamInfo {
    std::string name;  // "2026/11/26/[$LATEST]<hex>"
    uint64_t size = 0;
    int64_t mtime_ms = 0;  // last write
  };
  // Streams of a function, least recently written first (ties by name); empty for an unknown
  // function. Thread-safe.
  Result<std::vector<StreamInfo>> listStreams(std::string_view function) const;

  // Reads up to max_bytes starting at offset (empty past the end). NotFound for an unknown stream,
  // InvalidArgument for a bad name (e.g. containing ".."). Thread-safe, lock-free.
  Result<std::string> read(std::string_view function, std::string_view stream_name,
                           uint64_t offset, uint64_t max_bytes) const;

  // Deletes every stream of a function; succeeds if there were none. Streams still open keep
  // writing to their unlinked files. Thread-safe.
  Status removeFunction(std::string_view function);

  // Thread-safe (immutable).
  const std::filesystem::path& root() const { return root_; }

  // Name checks used by every method (exposed for the API layer's validation). Thread-safe.
  static bool isValidFunctionName(std::string_view function);
  static bool isValidStreamName(std::string_view stream_name);

 private:
  Result<std::vector<StreamInfo>> listLocked(const std::filesystem::path& dir) const;
  // Prunes as the class comment says; returns the number of streams left (nullopt when the
  // directory could not be listed).
  std::optional<size_t> pruneLocked(const std::filesystem::path& dir, std::string_view keep);

  // Per function, this process's knowledge of its directory: the stream directory it created
  // last, and an upper bound of its streams (known once listed).
  struct Known {
    std::string last_dir;
    std::optional<size_t> streams;
  };

  const std::filesystem::path root_;
  const uint64_t max_stream_bytes_;
  const size_t max_streams_per_function_;
  mutable std::mutex mu_;  // serialises openStream/prune, listStreams and removeFunction
  std::unordered_map<std::string, Known> known_;  // by function; guarded by mu_
};

}  // namespace kindling::observe
