// Layer versions in SQLite and merged /opt trees on disk (see layer_store.h).
#include "store/layer_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/strings.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using sql::columnText;
using sql::Stmt;
using sql::Transaction;
using sql::Use;

constexpr std::string_view kTempPrefix = ".tmp-";
constexpr size_t kMaxArnLength = 140;

#define KD_LAYER_COLUMNS                                                                    \
  "name, version, description, license_info, compatible_runtimes, compatible_architectures, " \
  "code_sha256, code_sha256_hex, code_size, unzipped_size, created_ms"

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// [a-zA-Z0-9-]+
bool isArnToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Result<std::string> listToText(const std::vector<std::string>& items) {
  try {
    return nlohmann::json(items).dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8
    return makeError(ErrorCode::InvalidArgument, fmt::format("layer: {}", e.what()));
  }
}

std::vector<std::string> listFromText(sqlite3_stmt* s, int col) {
  std::vector<std::string> out;
  const unsigned char* p = sqlite3_column_text(s, col);
  if (p == nullptr) return out;
  nlohmann::json j = nlohmann::json::parse(
      std::string_view(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(s, col))),
      nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (auto& item : j) {
    if (item.is_string()) out.push_back(std::move(item.get_ref<std::string&>()));
  }
  return out;
}

LayerVersion readRow(sqlite3_stmt* s) {
  LayerVersion v;
  int c = 0;
  v.name = columnText(s, c++);
  v.version = sqlite3_column_int64(s, c++);
  v.description = columnText(s, c++);
  v.license_info = columnText(s, c++);
  v.compatible_runtimes = listFromText(s, c++);
  v.compatible_architectures = listFromText(s, c++);
  v.code_sha256 = columnText(s, c++);
  v.code_sha256_hex = columnText(s, c++);
  v.code_size = sqlite3_column_int64(s, c++);
  v.unzipped_size = sqlite3_column_int64(s, c++);
  v.created_ms = sqlite3_column_int64(s, c++);
  return v;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

bool matches(const LayerVersion& v, const LayerFilter& filter) {
  return (filter.runtime.empty() || contains(v.compatible_runtimes, filter.runtime)) &&
         (filter.architecture.empty() || contains(v.compatible_architectures, filter.architecture));
}

tl::unexpected<Error> fsError(const std::error_code& ec, std::string context) {
  return tl::unexpected<Error>(Error{ErrorCode::Io, ec.value(), std::move(context)});
}

// Sum of the regular files' sizes under `dir` (symlinks not followed).
Result<int64_t> treeBytes(const fs::path& dir) {
  std::error_code ec;
  int64_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return fsError(ec, fmt::format("opendir('{}')", dir.string()));
  for (; it != end; it.increment(ec)) {
    if (ec) return fsError(ec, fmt::format("readdir('{}')", dir.string()));
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      total += static_cast<int64_t>(it->file_size(ec));
    }
  }
  if (ec) return fsError(ec, fmt::format("readdir('{}')", dir.string()));
  return total;
}

// Removes whatever is at `path` (file, symlink or tree); absent is fine.
Status removeAny(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fsError(ec, fmt::format("remove_all('{}')", path.string()));
  return {};
}

// Merges the tree `src` into the existing directory `dst`: directories are merged, anything
// else replaces what `dst` has under the same name (a later layer wins, files or directories).
// Regular files are hardlinked (copied where linking is impossible), symlinks recreated.
Status mergeTree(const fs::path& src, const fs::path& dst) {
  DIR* dir = ::opendir(src.c_str());
  if (dir == nullptr) return errnoError(fmt::format("opendir('{}')", src.string()));
  std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, ::closedir);
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    const fs::path from = src / name;
    const fs::path to = dst / name;
    struct stat from_st {};
    if (::lstat(from.c_str(), &from_st) != 0) {
      return errnoError(fmt::format("lstat('{}')", from.string()));
    }
    struct stat to_st {};
    const bool to_exists = ::lstat(to.c_str(), &to_st) == 0;
    if (!to_exists && errno != ENOENT) return errnoError(fmt::format("lstat('{}')", to.string()));
    if (S_ISDIR(from_st.st_mode)) {
      if (to_exists && !S_ISDIR(to_st.st_mode)) KD_TRY_STATUS(removeAny(to));
      if (!to_exists || !S_ISDIR(to_st.st_mode)) {
        if (::mkdir(to.c_str(), 0755) != 0) return errnoError(fmt::format("mkdir('{}')", to.string()));
      }
      if (::chmod(to.c_str(), from_st.st_mode & 07777) != 0) {
        return errnoError(fmt::format("chmod('{}')", to.string()));
      }
      KD_TRY_STATUS(mergeTree(from, to));
    } else if (S_ISREG(from_st.st_mode) || S_ISLNK(from_st.st_mode)) {
      if (to_exists) KD_TRY_STATUS(removeAny(to));
      if (S_ISLNK(from_st.st_mode)) {
        std::string target(static_cast<size_t>(from_st.st_size > 0 ? from_st.st_size : 256) + 1,
                           '\0');
        const ssize_t n = ::readlink(from.c_str(), target.data(), target.size());
        if (n < 0) return errnoError(fmt::format("readlink('{}')", from.string()));
        target.resize(static_cast<size_t>(n));
        if (::symlink(target.c_str(), to.c_str()) != 0) {
          return errnoError(fmt::format("symlink('{}', '{}')", target, to.string()));
        }
      } else if (::link(from.c_str(), to.c_str()) != 0) {
        if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
          return errnoError(fmt::format("link('{}', '{}')", from.string(), to.string()));
        }
        std::error_code ec;
        fs::copy_file(from, to, ec);
        if (ec) return fsError(ec, fmt::format("copy('{}', '{}')", from.string(), to.string()));
        if (::chmod(to.c_str(), from_st.st_mode & 0777) != 0) {
          return errnoError(fmt::format("chmod('{}')", to.string()));
        }
      }
    }
    // Other types never come out of extractZip(); skipped.
    errno = 0;
  }
  if (errno != 0) return errnoError(fmt::format("readdir('{}')", src.string()));
  return {};
}

// Flushes the filesystem holding `dir` (the hardlinks' directory entries), then `dir` itself.
Status syncTree(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoError(fmt::format("open('{}', O_DIRECTORY)", dir.string()));
  const bool ok = ::syncfs(fd) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return errnoError(fmt::format("syncfs('{}')", dir.string()), err);
  return {};
}

}  // namespace

bool isValidLayerName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxArnLength &&
         std::all_of(name.begin(), name.end(), isNameChar);
}

std::optional<LayerArnParts> parseLayerArn(std::string_view arn) {
  if (arn.empty() || arn.size() > kMaxArnLength) return std::nullopt;
  const auto parts = split(arn, ':');
  if (parts.size() != 7 && parts.size() != 8) return std::nullopt;
  if (parts[0] != "arn" || !isArnToken(parts[1]) || parts[2] != "lambda" ||
      !isArnToken(parts[3]) || parts[4].size() != 12 || !allDigits(parts[4]) ||
      parts[5] != "layer" || parts[6].empty() ||
      !std::all_of(parts[6].begin(), parts[6].end(), isNameChar)) {
    return std::nullopt;
  }
  LayerArnParts out{std::string(parts[3]), std::string(parts[4]), std::string(parts[6]), {}};
  if (parts.size() == 8) {
    // [0-9]+, within int64.
    if (!allDigits(parts[7]) || parts[7].size() > 18) return std::nullopt;
    out.version = std::stoll(std::string(parts[7]));
  }
  return out;
}

std::string layerArn(std::string_view region, std::string_view name) {
  return fmt::format("arn:aws:lambda:{}:{}:layer:{}", region, kLayerAccountId, name);
}

std::string layerVersionArn(std::string_view region, std::string_view name, int64_t version) {
  return fmt::format("arn:aws:lambda:{}:{}:layer:{}:{}", region, kLayerAccountId, name, version);
}

struct LayerStore::Statements {
  Stmt begin, commit, rollback;
  Stmt bump_name, insert_version, select_version, select_all, select_by_name, delete_version;
  Stmt unzipped_by_code;

  Status prepare(sqlite3* db) {
    KD_TRY_STATUS(begin.prepare(db, "BEGIN IMMEDIATE"));
    KD_TRY_STATUS(commit.prepare(db, "COMMIT"));
    KD_TRY_STATUS(rollback.prepare(db, "ROLLBACK"));
    KD_TRY_STATUS(bump_name.prepare(
        db, "INSERT INTO layer_names (name, last_version) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET last_version = last_version + 1 "
            "RETURNING last_version"));
    KD_TRY_STATUS(insert_version.prepare(
        db, "INSERT INTO layer_versions (" KD_LAYER_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
    KD_TRY_STATUS(select_version.prepare(
        db, "SELECT " KD_LAYER_COLUMNS " FROM layer_versions WHERE name=? AND version=?"));
    KD_TRY_STATUS(select_all.prepare(
        db, "SELECT " KD_LAYER_COLUMNS " FROM layer_versions ORDER BY name, version DESC"));
    KD_TRY_STATUS(select_by_name.prepare(
        db, "SELECT " KD_LAYER_COLUMNS
            " FROM layer_versions WHERE name=? ORDER BY version DESC"));
    KD_TRY_STATUS(delete_version.prepare(
        db, "DELETE FROM layer_versions WHERE name=? AND version=? RETURNING " KD_LAYER_COLUMNS));
    KD_TRY_STATUS(unzipped_by_code.prepare(
        db, "SELECT unzipped_size FROM layer_versions WHERE code_sha256_hex=? LIMIT 1"));
    return {};
  }
};

LayerStore::LayerStore(CodeStore& code, fs::path opt_root)
    : code_(code), opt_root_(std::move(opt_root)) {}

LayerStore::~LayerStore() {
  // Statements are finalised before the connection closes.
  statements_.reset();
}

Result<std::unique_ptr<LayerStore>> LayerStore::open(const fs::path& db_path, CodeStore& code,
                                                     fs::path opt_root) {
  std::unique_ptr<LayerStore> store(new LayerStore(code, std::move(opt_root)));
  std::error_code ec;
  fs::create_directories(store->opt_root_, ec);
  if (ec) return fsError(ec, fmt::format("mkdir('{}')", store->opt_root_.string()));
  if (::chmod(store->opt_root_.c_str(), 0755) != 0) {
    return errnoError(fmt::format("chmod('{}')", store->opt_root_.string()));
  }
  // Leftovers of a materialize() interrupted by a crash.
  for (fs::directory_iterator it(store->opt_root_, ec), end; !ec && it != end; it.increment(ec)) {
    if (startsWith(it->path().filename().string(), kTempPrefix)) {
      KD_TRY_STATUS(removeAny(it->path()));
    }
  }
  if (ec) return fsError(ec, fmt::format("readdir('{}')", store->opt_root_.string()));

  auto conn = sql::Connection::open(db_path);
  if (!conn) return tl::unexpected(std::move(conn.error()).wrap("layer store"));
  store->conn_ = std::move(*conn);
  store->statements_ = std::make_unique<Statements>();
  if (auto st = store->statements_->prepare(store->conn_.get()); !st) {
    return tl::unexpected(
        std::move(st.error()).wrap("layer store (was the registry migrated to schema 3?)"));
  }
  return store;
}

Result<LayerVersion> LayerStore::publish(const PublishLayerRequest& request) {
  if (!isValidLayerName(request.name)) {
    return makeError(ErrorCode::Validation,
                     fmt::format("invalid layer name '{}'", request.name));
  }
  auto runtimes = listToText(request.compatible_runtimes);
  if (!runtimes) return tl::unexpected(std::move(runtimes.error()));
  auto architectures = listToText(request.compatible_architectures);
  if (!architectures) return tl::unexpected(std::move(architectures.error()));
  auto stored = code_.put(request.zip_bytes);
  if (!stored) return tl::unexpected(std::move(stored.error()));

  LayerVersion v;
  v.name = request.name;
  v.description = request.description;
  v.license_info = request.license_info;
  v.compatible_runtimes = request.compatible_runtimes;
  v.compatible_architectures = request.compatible_architectures;
  v.code_sha256 = std::move(stored->sha256_b64);
  v.code_sha256_hex = std::move(stored->sha256_hex);
  v.code_size = stored->zip_size;
  v.unzipped_size = stored->unzipped_size;
  v.created_ms = request.now_ms;

  std::lock_guard lock(mutex_);
  sqlite3* db = conn_.get();
  Transaction tx(db, statements_->begin, statements_->commit, statements_->rollback);
  KD_TRY_STATUS(tx.begun());
  {
    Use use(db, statements_->bump_name);
    auto row = use.text(v.name).step("bump layer version");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return makeError(ErrorCode::Internal, "layer store: no version number returned");
    v.version = sqlite3_column_int64(use.get(), 0);
  }
  {
    Use use(db, statements_->insert_version);
    use.text(v.name)
        .i64(v.version)
        .text(v.description)
        .text(v.license_info)
        .text(*runtimes)
        .text(*architectures)
        .text(v.code_sha256)
        .text(v.code_sha256_hex)
        .i64(v.code_size)
        .i64(v.unzipped_size)
        .i64(v.created_ms);
    KD_TRY_STATUS(use.run("insert layer version"));
  }
  KD_TRY_STATUS(tx.commit());
  return v;
}

Result<LayerVersion> LayerStore::get(std::string_view name, int64_t version) const {
  std::lock_guard lock(mutex_);
  Use use(conn_.get(), statements_->select_version);
  auto row = use.text(name).i64(version).step("select layer version");
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) {
    return makeError(ErrorCode::NotFound,
                     fmt::format("layer version not found: {}:{}", name, version));
  }
  return readRow(use.get());
}

Result<std::vector<LayerVersion>> LayerStore::query(const Stmt& stmt, std::string_view name,
                                                    const LayerFilter& filter,
                                                    bool latest_only) const {
  std::vector<LayerVersion> out;
  Use use(conn_.get(), stmt);
  if (!name.empty()) use.text(name);
  while (true) {
    auto row = use.step("select layer versions");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    // Rows come sorted by name, newest version first: the first match per name is the latest.
    if (latest_only && !out.empty()) {
      const unsigned char* row_name = sqlite3_column_text(use.get(), 0);
      if (row_name != nullptr &&
          out.back().name == reinterpret_cast<const char*>(row_name)) {
        continue;
      }
    }
    LayerVersion v = readRow(use.get());
    if (matches(v, filter)) out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<LayerVersion>> LayerStore::listLatest(const LayerFilter& filter) const {
  std::lock_guard lock(mutex_);
  return query(statements_->select_all, {}, filter, /*latest_only=*/true);
}

Result<std::vector<LayerVersion>> LayerStore::listVersions(std::string_view name,
                                                           const LayerFilter& filter) const {
  if (name.empty()) return std::vector<LayerVersion>{};
  std::lock_guard lock(mutex_);
  return query(statements_->select_by_name, name, filter, /*latest_only=*/false);
}

Result<std::optional<LayerVersion>> LayerStore::remove(std::string_view name, int64_t version) {
  std::lock_guard lock(mutex_);
  Use use(conn_.get(), statements_->delete_version);
  auto row = use.text(name).i64(version).step("delete layer version");
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return std::optional<LayerVersion>();
  std::optional<LayerVersion> removed = readRow(use.get());
  // Finish the statement so the delete is complete before the reset in ~Use.
  auto done = use.step("delete layer version");
  if (!done) return tl::unexpected(std::move(done.error()));
  return removed;
}

Result<std::vector<LayerRef>> LayerStore::resolve(const std::vector<std::string>& arns,
                                                  std::string_view region) const {
  if (arns.size() > kMaxLayersPerFunction) {
    return makeError(ErrorCode::InvalidArgument, "Cannot reference more than 5 layers.");
  }
  std::vector<LayerRef> refs;
  refs.reserve(arns.size());
  std::vector<std::pair<std::string, const std::string*>> seen;  // layer name -> first ARN
  for (const std::string& arn : arns) {
    auto parts = parseLayerArn(arn);
    if (!parts || !parts->version) {
      return makeError(
          ErrorCode::Validation,
          fmt::format(
              "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy "
              "constraint: Member must satisfy constraint: [Member must have length less than "
              "or equal to 140, Member must have length greater than or equal to 1, Member must "
              "satisfy regular expression pattern: "
              "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|"
              "(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]",
              arn));
    }
    if (!region.empty() && parts->region != region) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("Layers are not in the same region as the function. Layers "
                                   "are expected to be in region {}.",
                                   region));
    }
    std::optional<LayerVersion> found;
    if (parts->account == kLayerAccountId) {
      auto version = get(parts->name, *parts->version);
      if (version) {
        found = std::move(*version);
      } else if (version.error().code != ErrorCode::NotFound) {
        return tl::unexpected(std::move(version.error()));
      }
    }
    if (!found) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("Layer version {} does not exist.", arn));
    }
    for (const auto& [name, first] : seen) {
      if (name == parts->name) {
        return makeError(
            ErrorCode::InvalidArgument,
            fmt::format("Two different versions of the same layer are not allowed to be "
                        "referenced in the same function. {} and {} are versions of the same "
                        "layer.",
                        *first, arn));
      }
    }
    seen.emplace_back(parts->name, &arn);
    refs.push_back(LayerRef{arn, std::move(found->code_sha256_hex), found->code_size});
  }
  return refs;
}

Result<int64_t> LayerStore::unzippedSize(const std::vector<LayerRef>& layers) const {
  int64_t total = 0;
  for (const LayerRef& layer : layers) {
    std::optional<int64_t> size;
    {
      std::lock_guard lock(mutex_);
      Use use(conn_.get(), statements_->unzipped_by_code);
      auto row = use.text(layer.code_sha256_hex).step("select layer unzipped size");
      if (!row) return tl::unexpected(std::move(row.error()));
      if (*row) size = sqlite3_column_int64(use.get(), 0);
    }
    if (!size) {  // the version was deleted since; measure its tree
      auto dir = code_.dir(layer.code_sha256_hex);
      if (!dir) return tl::unexpected(std::move(dir.error()));
      auto bytes = treeBytes(*dir);
      if (!bytes) return tl::unexpected(std::move(bytes.error()));
      size = *bytes;
    }
    total += *size;
  }
  return total;
}

Status LayerStore::checkUnzippedTotal(int64_t function_unzipped_bytes,
                                      const std::vector<LayerRef>& layers) const {
  auto layer_bytes = unzippedSize(layers);
  if (!layer_bytes) return tl::unexpected(std::move(layer_bytes.error()));
  const int64_t total = function_unzipped_bytes + *layer_bytes;
  if (total > static_cast<int64_t>(CodeStore::kMaxUnzippedBytes)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("Function code combined with layers exceeds the maximum allowed "
                                 "size of {} bytes. The actual size is {} bytes.",
                                 CodeStore::kMaxUnzippedBytes, total));
  }
  return {};
}

Result<fs::path> LayerStore::materialize(const std::vector<LayerRef>& layers) {
  if (layers.empty()) return fs::path();
  std::string key_material;
  key_material.reserve(layers.size() * 65);
  for (const LayerRef& layer : layers) {
    key_material += layer.code_sha256_hex;
    key_material += '\n';
  }
  const fs::path final_dir = opt_root_ / sha256Digest(key_material).second;

  std::lock_guard build(build_mu_);
  struct stat st {};
  if (::stat(final_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return final_dir;

  // Every source first: a missing package fails before anything is written.
  std::vector<fs::path> sources;
  sources.reserve(layers.size());
  for (const LayerRef& layer : layers) {
    auto dir = code_.dir(layer.code_sha256_hex);
    if (!dir) {
      return tl::unexpected(
          std::move(dir.error()).wrap(fmt::format("layer {}", layer.arn)));
    }
    sources.push_back(std::move(*dir));
  }
  const fs::path temp = opt_root_ / (std::string(kTempPrefix) + randomHex32());
  if (::mkdir(temp.c_str(), 0755) != 0) return errnoError(fmt::format("mkdir('{}')", temp.string()));
  auto cleanup = [&temp] {
    std::error_code ec;
    fs::remove_all(temp, ec);
  };
  if (::chmod(temp.c_str(), 0755) != 0) {  // umask
    Error err{ErrorCode::Io, errno, fmt::format("chmod('{}')", temp.string())};
    cleanup();
    return tl::unexpected(std::move(err));
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    if (auto merged = mergeTree(sources[i], temp); !merged) {
      cleanup();
      return tl::unexpected(std::move(merged.error()).wrap(
          fmt::format("merging layer {} into {}", layers[i].arn, temp.string())));
    }
  }
  if (auto synced = syncTree(temp); !synced) {
    cleanup();
    return tl::unexpected(std::move(synced.error()));
  }
  if (::rename(temp.c_str(), final_dir.c_str()) != 0) {
    const int err = errno;
    cleanup();
    // Another process (a second daemon on the same data dir) finished first: same content.
    if ((err == EEXIST || err == ENOTEMPTY) && ::stat(final_dir.c_str(), &st) == 0) {
      return final_dir;
    }
    return errnoError(fmt::format("rename('{}', '{}')", temp.string(), final_dir.string()), err);
  }
  spdlog::debug("layers: merged {} layer(s) into {}", layers.size(), final_dir.string());
  return final_dir;
}

Status LayerStore::pruneMaterialized(const std::vector<fs::path>& keep) {
  std::set<std::string> kept;
  for (const auto& path : keep) kept.insert(path.filename().string());
  std::lock_guard build(build_mu_);
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(opt_root_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!kept.count(it->path().filename().string())) doomed.push_back(it->path());
  }
  if (ec) return fsError(ec, fmt::format("readdir('{}')", opt_root_.string()));
  for (const auto& path : doomed) KD_TRY_STATUS(removeAny(path));
  return {};
}

}  // namespace kindling::store
