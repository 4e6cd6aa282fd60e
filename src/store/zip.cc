#include "store/zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <system_error>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kindling::store {
namespace {

namespace fs = std::filesystem;

struct ReadArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ReadArchive = std::unique_ptr<archive, ReadArchiveDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteArchiveDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// libarchive converts entry names between the archive's charset (UTF-8 when the zip says so)
// and the *current locale's*; in the "C" locale a daemon starts in, every non-ASCII UTF-8 name
// fails to convert and comes back null. Switch this thread (uselocale, not setlocale: other
// threads are unaffected) to C.UTF-8 for the duration of a read or write.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    if (utf8 != locale_t{}) previous_ = ::uselocale(utf8);
  }
  ~ScopedUtf8Locale() {
    if (previous_ != locale_t{}) ::uselocale(previous_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_{};
};

tl::unexpected<Error> brokenZip(archive* a) {
  // The detail is only useful to an operator; the caller gets AWS's text.
  const char* detail = a != nullptr ? archive_error_string(a) : nullptr;
  spdlog::debug("extractZip: libarchive: {}", detail != nullptr ? detail : "?");
  return makeError(ErrorCode::InvalidZip, std::string(kUnzipFailedMessage));
}

tl::unexpected<Error> unsafeEntry(std::string_view name, std::string_view why) {
  return makeError(ErrorCode::InvalidZip,
                   fmt::format("Could not unzip uploaded file: entry '{}' {}", name, why));
}

// Opens an in-memory zip for reading (seekable: the central directory is authoritative, which
// is where the unix permission bits live).
Result<ReadArchive> openZipReader(std::string_view zip_bytes) {
  ReadArchive in(archive_read_new());
  if (!in) return makeError(ErrorCode::Internal, "archive_read_new: out of memory");
  archive_read_support_format_zip(in.get());
  if (zip_bytes.empty() ||
      archive_read_open_memory(in.get(), zip_bytes.data(), zip_bytes.size()) != ARCHIVE_OK) {
    return brokenZip(in.get());
  }
  return in;
}

// Lexically normalises an entry name into "a/b/c" (no empty or '.' components). Returns false
// for absolute names and any '..' component.
bool normaliseEntryName(std::string_view name, std::string& out, size_t& depth) {
  out.clear();
  depth = 0;
  if (name.empty() || name.front() == '/') return false;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t next = name.find('/', pos);
    if (next == std::string_view::npos) next = name.size();
    std::string_view part = name.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return false;
    if (!out.empty()) out.push_back('/');
    out.append(part);
    ++depth;
  }
  return true;
}

// A symlink stays inside the tree if its target is relative, its leading '..' components do
// not climb above the root from the link's directory (which is a real directory: extraction
// never goes through symlinks), and no '..' follows a named component (a named component may
// itself be a symlink, which would make a later '..' resolve somewhere unexpected). Every
// other symlink in the tree obeys the same rule, so resolution stays inside by induction.
bool symlinkStaysInside(std::string_view target, size_t link_dir_depth) {
  if (target.empty() || target.front() == '/') return false;
  size_t leading_up = 0;
  bool seen_name = false;
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t next = target.find('/', pos);
    if (next == std::string_view::npos) next = target.size();
    std::string_view part = target.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (seen_name) return false;
      ++leading_up;
    } else {
      seen_name = true;
    }
  }
  return leading_up <= link_dir_depth;
}

// Creates the parent directories of `rel` under `root` with mode 0755 independent of the
// process umask, refusing to pass through anything that is not a real directory.
Status ensureParents(const std::string& root, std::string_view rel,
                     std::unordered_set<std::string>& known_dirs, std::string& scratch) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string_view::npos) {
    std::string prefix(rel.substr(0, pos));
    ++pos;
    if (known_dirs.contains(prefix)) continue;
    scratch.assign(root).append("/").append(prefix);
    if (::mkdir(scratch.c_str(), 0755) == 0) {
      if (::chmod(scratch.c_str(), 0755) != 0) {
        return errnoError(fmt::format("chmod('{}')", scratch));
      }
    } else if (errno == EEXIST) {
      struct stat st;
      if (::lstat(scratch.c_str(), &st) != 0) {
        return errnoError(fmt::format("lstat('{}')", scratch));
      }
      if (!S_ISDIR(st.st_mode)) return unsafeEntry(rel, "goes through a non-directory");
    } else {
      return errnoError(fmt::format("mkdir('{}')", scratch));
    }
    known_dirs.insert(std::move(prefix));
  }
  return {};
}

Status extractInto(archive* in, const std::string& root, uint64_t max_unzipped_bytes,
                   uint64_t* total_out) {
  WriteArchive out(archive_write_disk_new());
  if (!out) return makeError(ErrorCode::Internal, "archive_write_disk_new: out of memory");
  // PERM: modes exactly as sanitised below (not umask-dependent); the SECURE flags are a second
  // line of defence behind the checks done here.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  std::unordered_set<std::string> known_dirs;
  std::string rel;
  std::string abs;
  std::string scratch;
  uint64_t total = 0;
  const uint64_t max_bytes = max_unzipped_bytes;
  const auto too_big = [&] {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("Unzipped size must be smaller than {} bytes", max_bytes));
  };
  const auto write_failed = [&](std::string_view what) -> tl::unexpected<Error> {
    int err = archive_errno(out.get());
    const char* msg = archive_error_string(out.get());
    std::string context = fmt::format("{}('{}'): {}", what, abs, msg ? msg : "?");
    // Refusals by libarchive's own security checks carry ARCHIVE_ERRNO_MISC, not an errno.
    if (err > 0) return errnoError(std::move(context), err);
    return makeError(ErrorCode::InvalidZip, std::move(context));
  };

  archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(in, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return brokenZip(in);
    const char* raw_name = archive_entry_pathname(entry);
    if (raw_name == nullptr) return brokenZip(in);
    size_t depth = 0;
    if (!normaliseEntryName(raw_name, rel, depth)) {
      return unsafeEntry(raw_name, "has an absolute path or a '..' component");
    }
    if (rel.empty()) continue;  // "./" or "/"-only names: the root itself.
    if (archive_entry_hardlink(entry) != nullptr) return unsafeEntry(raw_name, "is a hardlink");
    const mode_t type = archive_entry_filetype(entry);
    mode_t perm = archive_entry_perm(entry) & 0777;  // never setuid/setgid/sticky
    if (type == AE_IFDIR) {
      perm = (perm == 0 ? 0755 : perm) | 0700;  // we must be able to clean it up
    } else if (type == AE_IFREG) {
      if (perm == 0) perm = 0644;  // archives from tools without unix modes
      const int64_t declared = archive_entry_size(entry);
      if (declared > 0 && total + static_cast<uint64_t>(declared) > max_unzipped_bytes) {
        return too_big();
      }
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || !symlinkStaysInside(target, depth - 1)) {
        return unsafeEntry(raw_name, "is a symlink pointing outside the package");
      }
      perm = 0777;
    } else {
      return unsafeEntry(raw_name, "is not a regular file, directory or symlink");
    }
    KD_TRY_STATUS(ensureParents(root, rel, known_dirs, scratch));
    abs.assign(root).append("/").append(rel);
    archive_entry_set_pathname(entry, abs.c_str());
    archive_entry_set_perm(entry, perm);
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) return write_failed("write_header");
    if (type == AE_IFDIR) {
      known_dirs.insert(rel);
    } else {
      known_dirs.erase(rel);
    }
    if (type == AE_IFREG) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        r = archive_read_data_block(in, &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        // Data warnings are a bad CRC or a size mismatch: the file would be wrong on disk.
        if (r != ARCHIVE_OK) return brokenZip(in);
        total += size;
        if (total > max_unzipped_bytes) return too_big();
        r = archive_write_data_block(out.get(), block, size, offset);
        // A warning here is "Too much data": the headers understated the entry's size.
        if (r == ARCHIVE_WARN) return brokenZip(out.get());
        if (r != ARCHIVE_OK) return write_failed("write_data");
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) return write_failed("finish_entry");
  }
  // Applies deferred directory permissions and times.
  if (archive_write_close(out.get()) < ARCHIVE_WARN) return write_failed("close");
  *total_out = total;
  return {};
}

la_ssize_t appendToString(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

class DirZipper {
 public:
  explicit DirZipper(archive* out) : out_(out), buffer_(1 << 16) {}

  Status addTree(const std::string& abs_dir, const std::string& rel_dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(abs_dir, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) {
      return makeError(ErrorCode::Io, fmt::format("readdir('{}'): {}", abs_dir, ec.message()));
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string abs = abs_dir + "/" + name;
      std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      struct stat st;
      if (::lstat(abs.c_str(), &st) != 0) return errnoError(fmt::format("lstat('{}')", abs));
      if (S_ISDIR(st.st_mode)) {
        KD_TRY_STATUS(addEntry(rel + "/", AE_IFDIR, st, 0, nullptr));
        KD_TRY_STATUS(addTree(abs, rel));
      } else if (S_ISREG(st.st_mode)) {
        KD_TRY_STATUS(addFile(abs, rel, st));
      } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlink(abs.c_str(), target.data(), target.size());
        if (n < 0) return errnoError(fmt::format("readlink('{}')", abs));
        target.resize(static_cast<size_t>(n));
        KD_TRY_STATUS(addEntry(rel, AE_IFLNK, st, 0, target.c_str()));
      }
    }
    return {};
  }

 private:
  Status addEntry(const std::string& rel, mode_t type, const struct stat& st, int64_t size,
                  const char* symlink_target) {
    Entry entry(archive_entry_new());
    if (!entry) return makeError(ErrorCode::Internal, "archive_entry_new: out of memory");
    archive_entry_set_pathname(entry.get(), rel.c_str());
    archive_entry_set_filetype(entry.get(), type);
    archive_entry_set_perm(entry.get(), st.st_mode & 0777);
    archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, 0);
    archive_entry_set_size(entry.get(), size);
    if (symlink_target != nullptr) archive_entry_set_symlink(entry.get(), symlink_target);
    if (archive_write_header(out_, entry.get()) < ARCHIVE_WARN) return writeFailed(rel);
    return {};
  }

  Status addFile(const std::string& abs, const std::string& rel, const struct stat& st) {
    FdCloser fd(::open(abs.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) return errnoError(fmt::format("open('{}')", abs));
    KD_TRY_STATUS(addEntry(rel, AE_IFREG, st, st.st_size, nullptr));
    // Write exactly the size announced in the header even if the file changes meanwhile.
    int64_t remaining = st.st_size;
    while (remaining > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(remaining, buffer_.size()));
      ssize_t n = ::read(fd.get(), buffer_.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errnoError(fmt::format("read('{}')", abs));
      }
      if (n == 0) {
        return makeError(ErrorCode::Io, fmt::format("read('{}'): file shrank while zipping", abs));
      }
      if (archive_write_data(out_, buffer_.data(), static_cast<size_t>(n)) < 0) {
        return writeFailed(rel);
      }
      remaining -= n;
    }
    return {};
  }

  tl::unexpected<Error> writeFailed(const std::string& rel) {
    const char* msg = archive_error_string(out_);
    return makeError(ErrorCode::Internal,
                     fmt::format("zipDirectory: writing '{}': {}", rel, msg ? msg : "?"));
  }

  archive* out_;
  std::vector<char> buffer_;
};

}  // namespace

Status extractZip(std::string_view zip_bytes, const std::filesystem::path& dest,
                  uint64_t max_unzipped_bytes, uint64_t* unzipped_bytes_out) {
  ScopedUtf8Locale utf8_names;
  auto in = openZipReader(zip_bytes);
  if (!in) return tl::unexpected(std::move(in.error()));

  std::error_code ec;
  if (dest.has_parent_path()) fs::create_directories(dest.parent_path(), ec);
  if (::mkdir(dest.c_str(), 0755) != 0) {
    return errnoError(fmt::format("mkdir('{}')", dest.string()));
  }
  // Canonical root: libarchive's symlink check walks every component of the absolute path, so
  // a symlink above `dest` (e.g. /var/run) must not be part of it.
  std::string root = fs::canonical(dest, ec).string();
  Status status;
  if (ec) {
    status = makeError(ErrorCode::Io,
                       fmt::format("realpath('{}'): {}", dest.string(), ec.message()));
  } else if (::chmod(root.c_str(), 0755) != 0) {
    status = errnoError(fmt::format("chmod('{}')", root));
  } else {
    uint64_t total = 0;
    status = extractInto(in->get(), root, max_unzipped_bytes, &total);
    if (status && unzipped_bytes_out != nullptr) *unzipped_bytes_out = total;
  }
  if (!status) fs::remove_all(dest, ec);
  return status;
}

Result<uint64_t> zipUnzippedSize(std::string_view zip_bytes) {
  ScopedUtf8Locale utf8_names;
  auto in = openZipReader(zip_bytes);
  if (!in) return tl::unexpected(std::move(in.error()));
  uint64_t total = 0;
  archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(in->get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return brokenZip(in->get());
    if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0) {
      total += static_cast<uint64_t>(archive_entry_size(entry));
    }
  }
  return total;
}

Result<std::string> zipDirectory(const std::filesystem::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return errnoError(fmt::format("stat('{}')", dir.string()));
  if (!S_ISDIR(st.st_mode)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("'{}' is not a directory", dir.string()));
  }
  ScopedUtf8Locale utf8_names;
  std::string zip;
  WriteArchive out(archive_write_new());
  if (!out) return makeError(ErrorCode::Internal, "archive_write_new: out of memory");
  if (archive_write_set_format_zip(out.get()) != ARCHIVE_OK ||
      archive_write_zip_set_compression_deflate(out.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(out.get(), 1) != ARCHIVE_OK ||
      archive_write_open(out.get(), &zip, nullptr, appendToString, nullptr) != ARCHIVE_OK) {
    const char* msg = archive_error_string(out.get());
    return makeError(ErrorCode::Internal,
                     fmt::format("zipDirectory: {}", msg ? msg : "setup failed"));
  }
  DirZipper zipper(out.get());
  KD_TRY_STATUS(zipper.addTree(dir.string(), ""));
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    const char* msg = archive_error_string(out.get());
    return makeError(ErrorCode::Internal, fmt::format("zipDirectory: close: {}", msg ? msg : "?"));
  }
  return zip;
}

}  // namespace kindling::store
