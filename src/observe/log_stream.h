// One log stream = one append-only file with a byte cap.
//
// Why this shape: function stdout/stderr is drained from pipes by the engine and must never make
// the function stall, and a follower (`kindling logs -f`, Invoke Tail) must see lines at once. So
// append() is one write(2) (writev) on an O_APPEND fd with no user-space buffering. The append
// that would cross the cap writes what still fits plus one marker line; every later append is
// dropped (the caller keeps draining the pipe regardless), via a lock-free check once capped.
// Writes are serialised by a per-stream mutex: the kernel already serialises O_APPEND writes to
// one file (inode lock), so it costs no throughput, and it makes the marker provably the last
// line. (A lock-free byte reservation was tried first: reservation order is not write order, so
// concurrent lines could land after the marker.)
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kindling::observe {

class LogStream {
 public:
  // Opens (creating if needed, never truncating) `file` for appending; the cap counts bytes
  // already in the file. Parent directories must exist. Thread-safe.
  static Result<std::unique_ptr<LogStream>> create(const std::filesystem::path& file,
                                                   uint64_t max_bytes);
  ~LogStream();
  LogStream(const LogStream&) = delete;
  LogStream& operator=(const LogStream&) = delete;

  // Appends data with one write(2); past the cap, writes the marker line once and drops the
  // rest. Write errors (ENOSPC, ...) drop the data and are logged once per stream. Thread-safe
  // (per-stream mutex around the write; lock-free drop once capped), no allocation.
  void append(std::string_view data);
  // Bytes written to the file so far (including the marker). Thread-safe.
  uint64_t size() const { return written_.load(std::memory_order_relaxed); }
  // Thread-safe (immutable).
  const std::filesystem::path& path() const { return path_; }
  // Thread-safe (immutable).
  uint64_t maxBytes() const { return max_bytes_; }
  // The marker line written once when the cap is hit. Thread-safe (immutable).
  std::string_view capMarker() const { return marker_; }
  // "[kindling] log stream reached its cap of N bytes; further output is dropped\n".
  static std::string makeCapMarker(uint64_t max_bytes);

 private:
  LogStream(int fd, std::filesystem::path path, uint64_t max_bytes, uint64_t initial_size);
  // Writes all iovecs (retrying EINTR and short writes); returns bytes written. Caller holds mu_.
  uint64_t writeAll(::iovec* iov, int iovcnt);

  const int fd_;  // owned; O_WRONLY|O_APPEND|O_CLOEXEC; closed in the destructor
  const std::filesystem::path path_;
  const uint64_t max_bytes_;
  const std::string marker_;
  std::mutex mu_;                   // serialises writes and the cap decision
  std::atomic<uint64_t> written_;   // file size in bytes; stored under mu_, read by size() anywhere
  std::atomic<bool> capped_;        // marker written (or file already past the cap); set under mu_
  bool error_logged_ = false;       // first write error logged; guarded by mu_
};

}  // namespace kindling::observe
