// Durable function registry: one SQLite database (WAL) holding every function's configuration.
// The schema evolves through a numbered list of migration steps keyed by PRAGMA user_version
// (registry.cc, kMigrations); later steps add versions, aliases, concurrency and the async queue.
// Layout of step 1: `functions` (one row per function, scalar fields as columns, environment as
// a JSON object column) and `function_tags` (one row per tag, cascades on delete).
// One connection guarded by a mutex; every statement is prepared once and reused.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/function.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kindling::store {

class Registry {  // thread-safe
 public:
  // Opens/creates the SQLite db (WAL, synchronous=NORMAL, foreign keys), runs schema migrations
  // keyed by PRAGMA user_version, each step in its own transaction. Fails with Unsupported if
  // the db was written by a newer schema than this build knows. ":memory:" gives a private
  // in-memory db (tests). Creates the parent directory.
  static Result<std::unique_ptr<Registry>> open(const std::filesystem::path& db_path);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Inserts a function with all its fields and tags; Conflict if the name exists. Thread-safe.
  Status createFunction(const FunctionConfig& fn);
  // Reads one function (tags included); NotFound. Thread-safe.
  Result<FunctionConfig> getFunction(std::string_view name) const;
  // All functions (tags included), sorted by name. Thread-safe.
  Result<std::vector<FunctionConfig>> listFunctions() const;
  // Replaces every field of the function named fn.name except its tags (those change only
  // through tagFunction/untagFunction, as in Lambda); NotFound. Thread-safe.
  Status updateFunction(const FunctionConfig& fn);
  // Deletes a function and its tags; NotFound. Thread-safe.
  Status deleteFunction(std::string_view name);
  // Adds or overwrites tags; NotFound if the function does not exist. Thread-safe.
  Status tagFunction(std::string_view name, const std::map<std::string, std::string>& tags);
  // Removes tags by key (absent keys are ignored); NotFound if the function does not exist.
  // Thread-safe.
  Status untagFunction(std::string_view name, const std::vector<std::string>& keys);
  // Number of functions whose code is the package with this digest. Thread-safe.
  Result<int> codeReferences(const std::string& sha256_hex) const;
  // Current schema version (PRAGMA user_version). Thread-safe.
  Result<int> schemaVersion() const;
  // Highest schema version this build knows. Thread-safe.
  static int latestSchemaVersion();

 private:
  struct Statements;
  Registry() = default;
  // Opens the connection, sets pragmas, migrates, prepares statements. Called once by open().
  Status init(const std::filesystem::path& db_path);

  // Caller holds mutex_.
  Result<int64_t> functionId(std::string_view name) const;
  Status readTags(int64_t id, std::map<std::string, std::string>& tags) const;
  Status insertTags(int64_t id, const std::map<std::string, std::string>& tags);

  mutable std::mutex mutex_;
  sqlite3* db_ = nullptr;                   // guarded by mutex_
  std::unique_ptr<Statements> statements_;  // guarded by mutex_
};

}  // namespace kindling::store
