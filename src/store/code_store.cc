#include "store/code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "store/zip.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTempPrefix = ".tmp-";

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (close after write can report a deferred I/O error).
  int close() {
    int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

bool isDigestHex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status checkDigest(const std::string& hex) {
  if (!isDigestHex(hex)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("code digest '{}' is not 64 lowercase hex characters", hex));
  }
  return {};
}

tl::unexpected<Error> packageNotFound(const std::string& hex) {
  return makeError(ErrorCode::NotFound, "code package not found: " + hex);
}

Status writeFile(const fs::path& path, std::string_view bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return errnoError(fmt::format("open('{}', O_CREAT|O_EXCL)", path.string()));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(fmt::format("write('{}')", path.string()));
    }
    done += static_cast<size_t>(n);
  }
  if (fd.close() != 0) return errnoError(fmt::format("close('{}')", path.string()));
  return {};
}

// Flushes everything written under `dir`'s filesystem and then the directory itself.
// One syncfs() instead of an fsync() per extracted file: packages often hold thousands of
// small files (node_modules), and per-file fsync would dominate put().
Status syncFilesystem(const fs::path& dir, bool whole_fs) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errnoError(fmt::format("open('{}', O_DIRECTORY)", dir.string()));
  if (whole_fs && ::syncfs(fd.get()) != 0) {
    return errnoError(fmt::format("syncfs('{}')", dir.string()));
  }
  if (::fsync(fd.get()) != 0) return errnoError(fmt::format("fsync('{}')", dir.string()));
  return {};
}

// Removes `path` recursively when it goes out of scope unless released.
class TempPath {
 public:
  explicit TempPath(fs::path path) : path_(std::move(path)) {}
  ~TempPath() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

}  // namespace

std::pair<std::string, std::string> sha256Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // EVP_Digest with the built-in SHA-256 only fails on allocation failure.
  KD_CHECK(EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) == 1);
  std::string_view raw(reinterpret_cast<const char*>(md), md_len);
  return {base64Encode(raw), hexEncode(raw)};
}

class CodeStore::DigestLock {
 public:
  DigestLock(CodeStore& store, const std::string& hex) : store_(store), hex_(hex) {
    std::unique_lock lock(store_.mutex_);
    store_.released_.wait(lock, [&] { return !store_.busy_digests_.contains(hex_); });
    store_.busy_digests_.insert(hex_);
  }
  ~DigestLock() {
    {
      std::lock_guard lock(store_.mutex_);
      store_.busy_digests_.erase(hex_);
    }
    store_.released_.notify_all();
  }
  DigestLock(const DigestLock&) = delete;
  DigestLock& operator=(const DigestLock&) = delete;

 private:
  CodeStore& store_;
  const std::string& hex_;
};

Result<std::unique_ptr<CodeStore>> CodeStore::open(std::filesystem::path root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return makeError(ErrorCode::Io, fmt::format("mkdir -p '{}': {}", root.string(), ec.message()));
  }
  std::unique_ptr<CodeStore> store(new CodeStore(std::move(root)));

  std::vector<std::string> names;
  for (fs::directory_iterator it(store->root_, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    return makeError(ErrorCode::Io,
                     fmt::format("readdir('{}'): {}", store->root_.string(), ec.message()));
  }
  std::unordered_set<std::string> trees;
  std::unordered_set<std::string> zips;
  for (const std::string& name : names) {
    if (startsWith(name, kTempPrefix)) {
      spdlog::info("code store: removing leftover of an interrupted write '{}'", name);
      fs::remove_all(store->root_ / name, ec);
      if (ec) {
        return makeError(ErrorCode::Io, fmt::format("remove_all('{}'): {}",
                                                    (store->root_ / name).string(), ec.message()));
      }
    } else if (isDigestHex(name)) {
      trees.insert(name);
    } else if (name.size() == 68 && name.ends_with(".zip") && isDigestHex(name.substr(0, 64))) {
      zips.insert(name.substr(0, 64));
    }
  }
  for (const std::string& hex : trees) {
    if (zips.contains(hex)) continue;
    // The tree was renamed into place but the zip (the commit point) was not, or remove()
    // was interrupted after unlinking the zip.
    spdlog::info("code store: removing uncommitted package tree '{}'", hex);
    fs::remove_all(store->treePath(hex), ec);
    if (ec) {
      return makeError(ErrorCode::Io, fmt::format("remove_all('{}'): {}",
                                                  store->treePath(hex).string(), ec.message()));
    }
  }
  for (const std::string& hex : zips) {
    if (trees.contains(hex)) continue;
    // Never produced by put()/remove() (tree first, zip last); someone deleted the tree.
    // Rebuild it from the zip so the package stays usable.
    spdlog::warn("code store: package '{}' lost its extracted tree; re-extracting", hex);
    auto bytes = store->readZip(hex);
    if (!bytes) return tl::unexpected(std::move(bytes.error()).wrap("code store open"));
    auto stored = store->put(*bytes);
    if (!stored || stored->sha256_hex != hex) {
      // The zip itself is damaged: drop it (and whatever it extracted to) rather than keep a
      // package that cannot run.
      spdlog::error("code store: package '{}' is corrupt ({}); removing it", hex,
                    stored ? "digest mismatch" : stored.error().message());
      if (stored) KD_TRY_STATUS(store->remove(stored->sha256_hex));
      KD_TRY_STATUS(store->remove(hex));
    }
  }
  return store;
}

fs::path CodeStore::zipPath(const std::string& hex) const { return root_ / (hex + ".zip"); }

fs::path CodeStore::treePath(const std::string& hex) const { return root_ / hex; }

Result<StoredCode> CodeStore::put(std::string_view zip_bytes) {
  if (zip_bytes.size() > kMaxZippedBytes) {
    return makeError(ErrorCode::RequestTooLarge,
                     fmt::format("Zipped size must be smaller than {} bytes", kMaxZippedBytes));
  }
  auto [b64, hex] = sha256Digest(zip_bytes);
  DigestLock lock(*this, hex);
  StoredCode out{std::move(b64), hex, static_cast<int64_t>(zip_bytes.size()), 0, treePath(hex)};
  const fs::path final_zip = zipPath(hex);

  struct stat st;
  if (::stat(final_zip.c_str(), &st) == 0 && ::stat(out.dir.c_str(), &st) == 0) {
    {
      std::lock_guard guard(mutex_);
      if (auto it = unzipped_sizes_.find(hex); it != unzipped_sizes_.end()) {
        out.unzipped_size = it->second;
        return out;
      }
    }
    auto unzipped = zipUnzippedSize(zip_bytes);
    if (!unzipped) return tl::unexpected(std::move(unzipped.error()));
    out.unzipped_size = static_cast<int64_t>(*unzipped);
    std::lock_guard guard(mutex_);
    unzipped_sizes_[hex] = out.unzipped_size;
    return out;
  }

  const std::string temp_base = (root_ / kTempPrefix).string() + randomHex32();
  TempPath temp_tree(temp_base + ".d");
  TempPath temp_zip(temp_base + ".zip");
  uint64_t unzipped = 0;
  KD_TRY_STATUS(extractZip(zip_bytes, temp_tree.path(), kMaxUnzippedBytes, &unzipped));
  out.unzipped_size = static_cast<int64_t>(unzipped);
  KD_TRY_STATUS(writeFile(temp_zip.path(), zip_bytes));
  KD_TRY_STATUS(syncFilesystem(root_, /*whole_fs=*/true));

  std::error_code ec;
  fs::remove_all(out.dir, ec);  // an uncommitted tree from a failed earlier attempt
  if (::rename(temp_tree.path().c_str(), out.dir.c_str()) != 0) {
    return errnoError(
        fmt::format("rename('{}', '{}')", temp_tree.path().string(), out.dir.string()));
  }
  temp_tree.release();
  if (::rename(temp_zip.path().c_str(), final_zip.c_str()) != 0) {
    Error err{ErrorCode::Io, errno,
              fmt::format("rename('{}', '{}')", temp_zip.path().string(), final_zip.string())};
    fs::remove_all(out.dir, ec);
    return tl::unexpected(std::move(err));
  }
  temp_zip.release();
  {
    std::lock_guard guard(mutex_);
    unzipped_sizes_[hex] = out.unzipped_size;
  }
  KD_TRY_STATUS(syncFilesystem(root_, /*whole_fs=*/false));  // make the renames durable
  return out;
}

Result<std::filesystem::path> CodeStore::dir(const std::string& sha256_hex) const {
  KD_TRY_STATUS(checkDigest(sha256_hex));
  struct stat st;
  if (::stat(zipPath(sha256_hex).c_str(), &st) != 0) {
    if (errno == ENOENT) return packageNotFound(sha256_hex);
    return errnoError(fmt::format("stat('{}')", zipPath(sha256_hex).string()));
  }
  return treePath(sha256_hex);
}

Result<std::string> CodeStore::readZip(const std::string& sha256_hex) const {
  KD_TRY_STATUS(checkDigest(sha256_hex));
  const fs::path path = zipPath(sha256_hex);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return packageNotFound(sha256_hex);
    return errnoError(fmt::format("open('{}')", path.string()));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errnoError(fmt::format("fstat('{}')", path.string()));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(fmt::format("read('{}')", path.string()));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (done != bytes.size()) {
    return makeError(ErrorCode::Io, fmt::format("read('{}'): short file", path.string()));
  }
  return bytes;
}

Status CodeStore::remove(const std::string& sha256_hex) {
  KD_TRY_STATUS(checkDigest(sha256_hex));
  DigestLock lock(*this, sha256_hex);
  {
    std::lock_guard guard(mutex_);
    unzipped_sizes_.erase(sha256_hex);
  }
  const fs::path zip = zipPath(sha256_hex);
  if (::unlink(zip.c_str()) != 0 && errno != ENOENT) {
    return errnoError(fmt::format("unlink('{}')", zip.string()));
  }
  // Move the tree out of the way first so a crash mid-delete leaves a ".tmp-" name for open().
  const fs::path doomed = (root_ / kTempPrefix).string() + randomHex32() + ".rm";
  if (::rename(treePath(sha256_hex).c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return errnoError(
        fmt::format("rename('{}', '{}')", treePath(sha256_hex).string(), doomed.string()));
  }
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) {
    return makeError(ErrorCode::Io,
                     fmt::format("remove_all('{}'): {}", doomed.string(), ec.message()));
  }
  return {};
}

}  // namespace kindling::store
