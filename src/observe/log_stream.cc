#include "observe/log_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kindling::observe {

std::string LogStream::makeCapMarker(uint64_t max_bytes) {
  return fmt::format(
      "[kindling] log stream reached its cap of {} bytes; further output is dropped\n", max_bytes);
}

Result<std::unique_ptr<LogStream>> LogStream::create(const std::filesystem::path& file,
                                                     uint64_t max_bytes) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    return errnoError(fmt::format("open(\"{}\", O_WRONLY|O_CREAT|O_APPEND)", file.string()));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return errnoError(fmt::format("fstat(\"{}\")", file.string()), err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("log stream \"{}\" is not a regular file", file.string()));
  }
  return std::unique_ptr<LogStream>(
      new LogStream(fd, file, max_bytes, static_cast<uint64_t>(st.st_size)));
}

LogStream::LogStream(int fd, std::filesystem::path path, uint64_t max_bytes, uint64_t initial_size)
    : fd_(fd),
      path_(std::move(path)),
      max_bytes_(max_bytes),
      marker_(makeCapMarker(max_bytes)),
      written_(initial_size),
      // A reopened file already past the cap had its marker written when it got there.
      capped_(initial_size > max_bytes) {}

LogStream::~LogStream() { ::close(fd_); }

uint64_t LogStream::writeAll(::iovec* iov, int iovcnt) {
  uint64_t total = 0;
  while (iovcnt > 0) {
    const ssize_t n = ::writev(fd_, iov, iovcnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!error_logged_) {
        error_logged_ = true;
        spdlog::warn("writev(log stream \"{}\"): {}; dropping output", path_.string(),
                     std::strerror(errno));
      }
      break;
    }
    total += static_cast<uint64_t>(n);
    // Short write (regular files only do this on ENOSPC/EFBIG or a signal): skip what was written.
    size_t left = static_cast<size_t>(n);
    while (iovcnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return total;
}

void LogStream::append(std::string_view data) {
  if (data.empty() || capped_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mu_);
  if (capped_.load(std::memory_order_relaxed)) return;
  const uint64_t size = written_.load(std::memory_order_relaxed);
  if (size + data.size() <= max_bytes_) {
    ::iovec iov{const_cast<char*>(data.data()), data.size()};
    written_.store(size + writeAll(&iov, 1), std::memory_order_relaxed);
    return;
  }
  // This append crosses the cap: keep what fits, but start the marker on its own line. If the
  // kept part does not end in a newline, its last byte is replaced by one so the file stays
  // within cap + marker bytes.
  static constexpr char kNewline = '\n';
  size_t keep = static_cast<size_t>(max_bytes_ - size);  // size <= max_bytes_ while not capped
  ::iovec iov[3];
  int cnt = 0;
  if (keep > 0 && data[keep - 1] != '\n') {
    --keep;
    if (keep > 0) iov[cnt++] = {const_cast<char*>(data.data()), keep};
    iov[cnt++] = {const_cast<char*>(&kNewline), 1};
  } else if (keep > 0) {
    iov[cnt++] = {const_cast<char*>(data.data()), keep};
  }
  iov[cnt++] = {const_cast<char*>(marker_.data()), marker_.size()};
  written_.store(size + writeAll(iov, cnt), std::memory_order_relaxed);
  capped_.store(true, std::memory_order_release);
}

}  // namespace kindling::observe
