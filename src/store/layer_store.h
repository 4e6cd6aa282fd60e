// Lambda layers: published layer versions (SQLite, tables of registry migration 3) whose zips
// live content-addressed in the CodeStore, and the merged /opt trees environments mount.
//
// Versions are numbered per layer name from 1 and never reused: layer_names.last_version only
// grows, so deleting version 3 and publishing again gives 4, as on Lambda. Functions pin a layer
// version by content (store::LayerRef carries the zip digest), so deleting a layer version never
// changes a function that uses it; the zip stays while Registry::codeReferences counts a user.
//
// materialize() merges a function's layers, in order, into <opt-root>/<sha256 of the digests>/:
// later layers overwrite earlier files (what extracting the zips one over the other into /opt
// gives on Lambda). Files are hardlinks into the CodeStore's extracted trees (same filesystem;
// copies otherwise), so a merged tree costs directory entries, not data. The tree is built
// under a ".tmp-" name, flushed and renamed into place: a crash never leaves a half-built tree
// visible, and open() removes the leftovers. Identical layer lists share one tree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/code_store.h"
#include "store/function.h"
#include "store/sqlite.h"

namespace kindling::store {

// The account every kindling ARN names.
inline constexpr std::string_view kLayerAccountId = "000000000000";
// Lambda's limit of layers per function.
inline constexpr size_t kMaxLayersPerFunction = 5;

// One published layer version.
struct LayerVersion {
  std::string name;
  int64_t version = 0;
  std::string description;
  std::string license_info;
  std::vector<std::string> compatible_runtimes;
  std::vector<std::string> compatible_architectures;
  std::string code_sha256;      // base64 of the zip's SHA-256 (AWS Content.CodeSha256)
  std::string code_sha256_hex;  // code store key
  int64_t code_size = 0;        // zip bytes
  int64_t unzipped_size = 0;    // extracted bytes (regular files)
  int64_t created_ms = 0;       // epoch millis (CreatedDate)
};

// What PublishLayerVersion stores (validated by the caller against AWS's constraints; the store
// re-checks the name).
struct PublishLayerRequest {
  std::string name;
  std::string description;
  std::string license_info;
  std::vector<std::string> compatible_runtimes;
  std::vector<std::string> compatible_architectures;
  std::string_view zip_bytes;
  int64_t now_ms = 0;
};

// ListLayers / ListLayerVersions filters; empty = no filter.
struct LayerFilter {
  std::string runtime;       // CompatibleRuntime: the version lists it
  std::string architecture;  // CompatibleArchitecture: the version lists it
};

// A parsed layer (version) ARN: arn:<partition>:lambda:<region>:<account>:layer:<name>[:<n>].
struct LayerArnParts {
  std::string region;
  std::string account;
  std::string name;
  std::optional<int64_t> version;  // absent for a layer ARN
};

// True for 1-140 characters of [a-zA-Z0-9-_] (botocore's LayerName pattern, name form).
bool isValidLayerName(std::string_view name);
// Parses a layer ARN (version optional) per botocore's LayerArn/LayerVersionArn patterns and
// their 140-character limit; nullopt when malformed. Thread-safe.
std::optional<LayerArnParts> parseLayerArn(std::string_view arn);
// arn:aws:lambda:<region>:000000000000:layer:<name>
std::string layerArn(std::string_view region, std::string_view name);
// arn:aws:lambda:<region>:000000000000:layer:<name>:<version>
std::string layerVersionArn(std::string_view region, std::string_view name, int64_t version);

class LayerStore {  // thread-safe
 public:
  // Opens its own connection to the registry db (Registry::open must have migrated it first)
  // and prepares statements; `opt_root` (<data-dir>/opt) holds the merged trees: created if
  // missing, ".tmp-*" leftovers of an interrupted materialize() removed. `code` must outlive
  // the store.
  static Result<std::unique_ptr<LayerStore>> open(const std::filesystem::path& db_path,
                                                  CodeStore& code,
                                                  std::filesystem::path opt_root);
  ~LayerStore();
  LayerStore(const LayerStore&) = delete;
  LayerStore& operator=(const LayerStore&) = delete;

  // Stores the zip (CodeStore::put: size limits, safe extraction) and records version
  // last_version+1 of the name, atomically. Errors: InvalidArgument for a bad name, CodeStore's
  // errors for the zip. The caller serialises publish() with code garbage collection (so the
  // new zip is not collected between put() and the insert). Thread-safe.
  Result<LayerVersion> publish(const PublishLayerRequest& request);
  // One version; NotFound. Thread-safe.
  Result<LayerVersion> get(std::string_view name, int64_t version) const;
  // The newest version of every layer name that matches the filter, sorted by name.
  // Thread-safe.
  Result<std::vector<LayerVersion>> listLatest(const LayerFilter& filter) const;
  // Every version of one name that matches the filter, newest first (empty for an unknown
  // name, as on Lambda). Thread-safe.
  Result<std::vector<LayerVersion>> listVersions(std::string_view name,
                                                 const LayerFilter& filter) const;
  // Deletes one version; returns it (the caller may then collect its zip), or nullopt when it
  // did not exist (Lambda's DeleteLayerVersion is idempotent). The number is never reused.
  // Thread-safe.
  Result<std::optional<LayerVersion>> remove(std::string_view name, int64_t version);

  // Resolves a function's Layers parameter (layer version ARNs, in order) into pinned refs.
  // AWS's errors: more than 5 -> InvalidArgument "Cannot reference more than 5 layers.";
  // malformed ARN -> Validation; another region -> InvalidArgument "Layers are not in the same
  // region as the function..."; unknown version -> InvalidArgument "Layer version <arn> does
  // not exist."; one layer twice -> InvalidArgument "Two different versions of the same layer
  // are not allowed to be referenced in the same function. <a> and <b> are versions of the same
  // layer.". Thread-safe.
  Result<std::vector<LayerRef>> resolve(const std::vector<std::string>& arns,
                                        std::string_view region) const;
  // Sum of the layers' unzipped sizes (from the recorded versions; a deleted version's tree is
  // measured on disk). Thread-safe.
  Result<int64_t> unzippedSize(const std::vector<LayerRef>& layers) const;
  // Lambda's 250 MB limit on function code plus layers, unzipped: InvalidArgument "Function code
  // combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is
  // <n> bytes." Thread-safe.
  Status checkUnzippedTotal(int64_t function_unzipped_bytes,
                            const std::vector<LayerRef>& layers) const;

  // The directory holding the layers' contents merged in order (later layers overwrite earlier
  // files): <opt-root>/<sha256 of the ordered digests>/, built once and then reused. Empty list
  // -> empty path. NotFound when a layer's package is missing from the code store. Thread-safe
  // (builds are serialised).
  Result<std::filesystem::path> materialize(const std::vector<LayerRef>& layers);
  // Removes every merged tree except `keep` (paths materialize() returned). Only while no
  // environment has one mounted (at daemon start, before environments run). Thread-safe.
  Status pruneMaterialized(const std::vector<std::filesystem::path>& keep);

  // <data-dir>/opt. Thread-safe.
  const std::filesystem::path& optRoot() const { return opt_root_; }

 private:
  struct Statements;
  LayerStore(CodeStore& code, std::filesystem::path opt_root);
  // Caller holds mutex_.
  Result<std::vector<LayerVersion>> query(const sql::Stmt& stmt, std::string_view name,
                                          const LayerFilter& filter, bool latest_only) const;

  CodeStore& code_;
  const std::filesystem::path opt_root_;
  mutable std::mutex mutex_;                // guards conn_ and statements_
  sql::Connection conn_;                    // guarded by mutex_
  std::unique_ptr<Statements> statements_;  // guarded by mutex_
  std::mutex build_mu_;                     // serialises materialize()/pruneMaterialized()
};

}  // namespace kindling::store
