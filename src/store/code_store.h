// Content-addressed code store: each deployment package lives under its SHA-256 as
// <root>/<hex>.zip (the bytes as uploaded, returned by GetFunction) and <root>/<hex>/ (the
// extracted tree, mounted read-only as /var/task). Identical uploads share one copy.
//
// Crash safety: put() builds both under ".tmp-" names, flushes them (one syncfs), renames the
// tree into place and then the zip; the zip's final name is the commit point. A package is
// present iff <hex>.zip exists; open() deletes ".tmp-*" leftovers and trees without a zip, so an
// interrupted put() or remove() never leaves a half package visible.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/result.h"

namespace kindling::store {

struct StoredCode {
  std::string sha256_b64;  // AWS CodeSha256: base64 of the raw digest
  std::string sha256_hex;  // store key
  int64_t zip_size = 0;
  int64_t unzipped_size = 0;
  std::filesystem::path dir;  // extracted tree
};

class CodeStore {  // thread-safe
 public:
  static constexpr uint64_t kMaxZippedBytes = 52428800, kMaxUnzippedBytes = 262144000;

  // root = <data-dir>/code; creates it, removes leftovers of an interrupted put()/remove().
  static Result<std::unique_ptr<CodeStore>> open(std::filesystem::path root);

  // Stores zip bytes content-addressed: <root>/<hex>.zip + extracted tree <root>/<hex>/.
  // Atomic (temp names, flush, rename): a crash never leaves a half package visible.
  // Idempotent for an existing digest. > kMaxZippedBytes -> ErrorCode::RequestTooLarge
  // "Zipped size must be smaller than 52428800 bytes"; extraction errors as extractZip().
  // Thread-safe; concurrent puts of the same digest extract once.
  Result<StoredCode> put(std::string_view zip_bytes);

  // Extracted tree of a stored package; NotFound if absent, InvalidArgument for a malformed
  // digest. The caller keeps the package referenced (registry) while using the path.
  // Thread-safe.
  Result<std::filesystem::path> dir(const std::string& sha256_hex) const;

  // The stored zip bytes; NotFound if absent. Thread-safe.
  Result<std::string> readZip(const std::string& sha256_hex) const;

  // Deletes a package (zip first, so it is gone before the tree goes). Succeeds if it is
  // already absent. Thread-safe; serialised with put() of the same digest.
  Status remove(const std::string& sha256_hex);

  // The root directory. Thread-safe.
  const std::filesystem::path& root() const { return root_; }

 private:
  explicit CodeStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Holds a digest exclusively for the lifetime of the guard (put/remove of one digest).
  class DigestLock;

  std::filesystem::path zipPath(const std::string& hex) const;
  std::filesystem::path treePath(const std::string& hex) const;

  const std::filesystem::path root_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::unordered_set<std::string> busy_digests_;  // guarded by mutex_
  // Unzipped sizes of packages seen by this process, so an idempotent put() does not rescan
  // the zip's headers. Guarded by mutex_.
  std::unordered_map<std::string, int64_t> unzipped_sizes_;
};

// SHA-256 of `data` as {base64, lowercase hex}. Thread-safe.
std::pair<std::string, std::string> sha256Digest(std::string_view data);

}  // namespace kindling::store
