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
#include "store/sqlite.h"

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
  // With `published`, also publishes version 1 in the same transaction (CreateFunction with
  // Publish) and returns it there.
  Status createFunction(const FunctionConfig& fn, FunctionConfig* published = nullptr);
  // Reads one function (tags included); NotFound. Thread-safe.
  Result<FunctionConfig> getFunction(std::string_view name) const;
  // All functions (tags included), sorted by name. Thread-safe.
  Result<std::vector<FunctionConfig>> listFunctions() const;
  // Replaces every field of $LATEST of the function named fn.name (layers and dead-letter
  // target included) except its tags (those change only through tagFunction/untagFunction, as
  // in Lambda); NotFound. Thread-safe.
  // With `published`, also publishes the result in the same transaction (UpdateFunctionCode
  // with Publish) and returns the version there.
  Status updateFunction(const FunctionConfig& fn, FunctionConfig* published = nullptr);
  // Deletes a function with its tags, versions, aliases and settings; NotFound. Thread-safe.
  Status deleteFunction(std::string_view name);
  // Adds or overwrites tags; NotFound if the function does not exist. Thread-safe.
  Status tagFunction(std::string_view name, const std::map<std::string, std::string>& tags);
  // Removes tags by key (absent keys are ignored); NotFound if the function does not exist.
  // Thread-safe.
  Status untagFunction(std::string_view name, const std::vector<std::string>& keys);
  // Every function with its versions, aliases and settings, sorted by name. Thread-safe.
  Result<std::vector<FunctionRecord>> loadAll() const;
  // One function's full record; NotFound. Thread-safe.
  Result<FunctionRecord> getRecord(std::string_view name) const;

  // Publishes $LATEST as version last_version+1 (config copied, version = "N", description as
  // given or $LATEST's, a new revision id, last_modified = now_ms), atomically. If $LATEST has
  // not changed since the last publish (same revision), returns that version instead (Lambda
  // does not publish an unchanged function twice); `*created` says which. NotFound. Thread-safe.
  Result<FunctionConfig> publishVersion(std::string_view name, const std::string& description,
                                        int64_t now_ms, bool* created = nullptr);
  // Deletes a published version with its provisioned and event-invoke configs; NotFound;
  // Conflict when an alias routes to it. Thread-safe.
  Status deleteVersion(std::string_view name, int version);

  // Inserts an alias; Conflict if it exists; NotFound for the function. Thread-safe.
  Status createAlias(std::string_view function, const Alias& alias);
  // Replaces an alias; NotFound. Thread-safe.
  Status updateAlias(std::string_view function, const Alias& alias);
  // Deletes an alias with its provisioned and event-invoke configs; NotFound. Thread-safe.
  Status deleteAlias(std::string_view function, std::string_view alias);

  // Sets (value) or removes (nullopt) the function's reserved concurrency; NotFound. Thread-safe.
  Status setReservedConcurrency(std::string_view name, std::optional<int> reserved);
  // Inserts or replaces a provisioned-concurrency config; NotFound. Thread-safe.
  Status putProvisioned(std::string_view name, const ProvisionedConfig& config);
  // Deletes one; NotFound when the function or the config is missing. Thread-safe.
  Status deleteProvisioned(std::string_view name, std::string_view qualifier);
  // Inserts or replaces an event-invoke config; NotFound. Thread-safe.
  Status putEventInvokeConfig(std::string_view name, const EventInvokeConfig& config);
  // Deletes one; NotFound when the function or the config is missing. Thread-safe.
  Status deleteEventInvokeConfig(std::string_view name, std::string_view qualifier);

  // Number of functions, published versions and layer versions whose code is the package with
  // this digest (function layers are counted through their layer versions). Thread-safe.
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

  // Runs `body(statements, function id)` for the function `name` in one IMMEDIATE transaction
  // under mutex_, committing when it succeeds; NotFound for an unknown function.
  // (Defined in registry.cc, its only user.)
  template <class Body>
  Status inFunctionTransaction(std::string_view name, Body&& body);
  // Caller holds mutex_ and an open transaction: publishVersion's work.
  Result<FunctionConfig> publishInTransaction(std::string_view name, const std::string& description,
                                              int64_t now_ms, bool* created);
  // Caller holds mutex_.
  Result<int64_t> functionId(std::string_view name) const;
  Status readTags(int64_t id, std::map<std::string, std::string>& tags) const;
  Status insertTags(int64_t id, const std::map<std::string, std::string>& tags);
  // NotFound unless `qualifier` is "$LATEST", a published version of function `id`, or (with
  // allow_alias) one of its aliases. Caller holds mutex_ inside a transaction.
  Status checkQualifier(int64_t id, std::string_view function, std::string_view qualifier,
                        bool allow_alias) const;
  // NotFound unless the alias's version and every routing version exist. Caller holds mutex_.
  Status checkAliasTargets(int64_t id, std::string_view function, const Alias& alias) const;

  mutable std::mutex mutex_;
  sql::Connection conn_;                    // guarded by mutex_
  sqlite3* db_ = nullptr;                   // conn_.get(); guarded by mutex_
  std::unique_ptr<Statements> statements_;  // guarded by mutex_
};

}  // namespace kindling::store
