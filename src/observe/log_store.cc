#include "observe/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kindling::observe {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxFunctionNameLength = 256;
constexpr size_t kMaxStreamNameLength = 512;

int64_t toEpochMs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

LogStore::LogStore(fs::path root, uint64_t max_stream_bytes, size_t max_streams_per_function)
    : root_(std::move(root)),
      max_stream_bytes_(max_stream_bytes),
      max_streams_per_function_(max_streams_per_function) {}

bool LogStore::isValidFunctionName(std::string_view function) {
  // Lambda names are [A-Za-z0-9_-]{1,64}; qualifiers/ARN parts may add ':' '.' '$'. Never '/'.
  if (function.empty() || function.size() > kMaxFunctionNameLength) return false;
  if (function[0] == '.') return false;  // ".", "..", hidden entries
  return std::all_of(function.begin(), function.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':' || c == '$';
  });
}

bool LogStore::isValidStreamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxStreamNameLength) return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == ".") return false;
    for (char c : part) {
      // No control characters (NUL, newlines) and no backslash: names end up in file paths,
      // log lines and JSON.
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return false;
    }
    start = end + 1;
  }
  return true;
}

Result<std::unique_ptr<LogStream>> LogStore::openStream(std::string_view function,
                                                        std::string_view stream_name) {
  if (!isValidFunctionName(function)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid function name for a log stream: \"{}\"", function));
  }
  if (!isValidStreamName(stream_name)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid log stream name: \"{}\"", stream_name));
  }
  const fs::path dir = root_ / function;
  const fs::path file = dir / stream_name;
  std::lock_guard lock(mu_);
  Known& known = known_[std::string(function)];
  auto makeDirs = [&]() -> Status {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    if (ec) {
      known.last_dir.clear();
      return errnoError(fmt::format("mkdir -p \"{}\"", file.parent_path().string()), ec.value());
    }
    known.last_dir = file.parent_path().string();
    return {};
  };
  // The directory of the previous stream is usually this one's (one per day): not stat'ed again.
  const bool dir_known = known.last_dir == file.parent_path().native();
  if (!dir_known) {
    if (auto made = makeDirs(); !made) return tl::unexpected(std::move(made.error()));
  }
  auto stream = LogStream::create(file, max_stream_bytes_);
  if (!stream && dir_known) {  // removed behind this process's back: made again, once
    if (auto made = makeDirs(); !made) return tl::unexpected(std::move(made.error()));
    stream = LogStream::create(file, max_stream_bytes_);
  }
  if (!stream) return tl::unexpected(std::move(stream.error()).wrap("open log stream"));
  // Listed (and pruned) only when the limit may be exceeded: the count is an upper bound (a
  // reopened stream counts again), exact after each listing.
  if (!known.streams || ++*known.streams > max_streams_per_function_) {
    known.streams = pruneLocked(dir, stream_name);
  }
  return stream;
}

Result<std::vector<LogStore::StreamInfo>> LogStore::listLocked(const fs::path& dir) const {
  std::vector<StreamInfo> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return errnoError(fmt::format("opendir(\"{}\")", dir.string()), ec.value());
  }
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return errnoError(fmt::format("readdir(under \"{}\")", dir.string()), ec.value());
    struct stat st {};
    // lstat: a symlink planted in the tree is neither listed nor followed.
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back(StreamInfo{it->path().lexically_relative(dir).generic_string(),
                             static_cast<uint64_t>(st.st_size), toEpochMs(st.st_mtim)});
  }
  if (ec) return errnoError(fmt::format("readdir(under \"{}\")", dir.string()), ec.value());
  std::sort(out.begin(), out.end(), [](const StreamInfo& a, const StreamInfo& b) {
    return a.mtime_ms != b.mtime_ms ? a.mtime_ms < b.mtime_ms : a.name < b.name;
  });
  return out;
}

std::optional<size_t> LogStore::pruneLocked(const fs::path& dir, std::string_view keep) {
  auto streams = listLocked(dir);
  if (!streams) {
    spdlog::warn("prune log streams (\"{}\"): {}", dir.string(), streams.error().message());
    return std::nullopt;
  }
  size_t count = streams->size();
  for (const StreamInfo& s : *streams) {
    if (count <= max_streams_per_function_) break;
    if (s.name == keep) continue;
    fs::path victim = dir / s.name;
    if (::unlink(victim.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("unlink(\"{}\"): {}", victim.string(), std::strerror(errno));
      continue;
    }
    --count;
    // Remove the now-empty date directories (rmdir fails harmlessly on non-empty ones).
    for (fs::path p = victim.parent_path(); p != dir && p.has_relative_path();
         p = p.parent_path()) {
      if (::rmdir(p.c_str()) != 0) break;
    }
  }
  return count;
}

Result<std::vector<LogStore::StreamInfo>> LogStore::listStreams(std::string_view function) const {
  if (!isValidFunctionName(function)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid function name: \"{}\"", function));
  }
  std::lock_guard lock(mu_);
  return listLocked(root_ / function);
}

Result<std::string> LogStore::read(std::string_view function, std::string_view stream_name,
                                   uint64_t offset, uint64_t max_bytes) const {
  if (!isValidFunctionName(function)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid function name: \"{}\"", function));
  }
  if (!isValidStreamName(stream_name)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid log stream name: \"{}\"", stream_name));
  }
  const fs::path file = root_ / function / stream_name;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == ELOOP) {
      return makeError(ErrorCode::NotFound,
                       fmt::format("log stream not found: {}/{}", function, stream_name));
    }
    return errnoError(fmt::format("open(\"{}\", O_RDONLY)", file.string()), err);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errnoError(fmt::format("fstat(\"{}\")", file.string()));
  if (!S_ISREG(st.st_mode)) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("log stream not found: {}/{}", function, stream_name));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset >= size || max_bytes == 0) return std::string();
  const uint64_t want = std::min(max_bytes, size - offset);
  std::string out(static_cast<size_t>(want), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + got, out.size() - got,
                              static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(fmt::format("pread(\"{}\", offset={})", file.string(), offset + got));
    }
    if (n == 0) break;  // truncated/unlinked meanwhile
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

Status LogStore::removeFunction(std::string_view function) {
  if (!isValidFunctionName(function)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("invalid function name: \"{}\"", function));
  }
  const fs::path dir = root_ / function;
  std::lock_guard lock(mu_);
  known_.erase(std::string(function));
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return errnoError(fmt::format("remove_all(\"{}\")", dir.string()), ec.value());
  }
  return {};
}

}  // namespace kindling::observe
