#include "store/registry.h"

#include <sqlite3.h>

#include <climits>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kindling::store {
namespace {

namespace fs = std::filesystem;

// Schema migrations: step N moves the db from user_version N-1 to N inside one transaction.
// Append new steps; never edit a step that has shipped.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
      CREATE TABLE functions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        runtime TEXT NOT NULL,
        handler TEXT NOT NULL,
        role TEXT NOT NULL,
        description TEXT NOT NULL,
        memory_mb INTEGER NOT NULL,
        timeout_s INTEGER NOT NULL,
        ephemeral_storage_mb INTEGER NOT NULL,
        architecture TEXT NOT NULL,
        package_type TEXT NOT NULL,
        tracing_mode TEXT NOT NULL,
        log_format TEXT NOT NULL,
        environment TEXT NOT NULL DEFAULT '{}',  -- JSON object of string values
        code_sha256 TEXT NOT NULL,
        code_sha256_hex TEXT NOT NULL,
        code_size INTEGER NOT NULL,
        last_modified_ms INTEGER NOT NULL,
        revision_id TEXT NOT NULL,
        version TEXT NOT NULL
      );
      CREATE INDEX functions_by_code ON functions(code_sha256_hex);
      CREATE TABLE function_tags (
        function_id INTEGER NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (function_id, key)
      ) WITHOUT ROWID;
    )sql"},
};

constexpr bool migrationsAreConsecutive() {
  int expected = 1;
  for (const Migration& m : kMigrations) {
    if (m.version != expected++) return false;
  }
  return true;
}
static_assert(migrationsAreConsecutive(), "kMigrations must be numbered 1, 2, 3, ...");

constexpr int kLatestVersion = static_cast<int>(std::size(kMigrations));

// Column list shared by insert and select; the select adds `id` in front.
#define KD_FUNCTION_COLUMNS                                                                  \
  "name, runtime, handler, role, description, memory_mb, timeout_s, ephemeral_storage_mb, " \
  "architecture, package_type, tracing_mode, log_format, environment, code_sha256, "        \
  "code_sha256_hex, code_size, last_modified_ms, revision_id, version"

tl::unexpected<Error> dbError(sqlite3* db, std::string_view what) {
  return makeError(ErrorCode::Io, fmt::format("sqlite {}: {} (code {})", what, sqlite3_errmsg(db),
                                              sqlite3_extended_errcode(db)));
}

tl::unexpected<Error> functionNotFound(std::string_view name) {
  return makeError(ErrorCode::NotFound, fmt::format("Function not found: {}", name));
}

class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepare(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      return dbError(db, fmt::format("prepare({})", sql));
    }
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a cached statement: binds parameters left to right, and on scope exit resets it
// and clears the bindings (they point into the caller's strings: SQLITE_STATIC, no copies).
class Use {
 public:
  Use(sqlite3* db, const Stmt& stmt) : db_(db), stmt_(stmt.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& text(std::string_view v) {
    if (rc_ == SQLITE_OK) {
      rc_ = v.size() > INT_MAX ? SQLITE_TOOBIG
                               : sqlite3_bind_text(stmt_, index_, v.data() ? v.data() : "",
                                                   static_cast<int>(v.size()), SQLITE_STATIC);
    }
    ++index_;
    return *this;
  }
  Use& i64(int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index_, v);
    ++index_;
    return *this;
  }
  // Steps once: true for a row, false when done; errors carry `what`.
  Result<bool> step(std::string_view what) {
    if (rc_ != SQLITE_OK) {
      return makeError(rc_ == SQLITE_TOOBIG ? ErrorCode::InvalidArgument : ErrorCode::Internal,
                       fmt::format("sqlite {}: bind: {}", what, sqlite3_errstr(rc_)));
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return dbError(db_, what);
  }
  // Steps a statement that returns no rows.
  Status run(std::string_view what) {
    auto r = step(what);
    if (!r) return tl::unexpected(std::move(r.error()));
    return {};
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int rc_ = SQLITE_OK;
  int index_ = 1;
};

std::string columnText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Result<std::string> environmentToJson(const std::map<std::string, std::string>& env) {
  try {
    return nlohmann::json(env).dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("environment variables are not valid UTF-8: {}", e.what()));
  }
}

Status environmentFromJson(std::string_view text, std::map<std::string, std::string>& env) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return makeError(ErrorCode::Internal, "registry: corrupt environment column");
  env.clear();
  for (auto& [key, value] : j.items()) {
    if (!value.is_string()) {
      return makeError(ErrorCode::Internal, "registry: corrupt environment value");
    }
    env.emplace(key, std::move(value.get_ref<std::string&>()));
  }
  return {};
}

// Reads the function columns of the current row, starting at column 1 (column 0 is id).
Status readFunctionRow(sqlite3_stmt* s, FunctionConfig& fn) {
  int c = 1;
  fn.name = columnText(s, c++);
  fn.runtime = columnText(s, c++);
  fn.handler = columnText(s, c++);
  fn.role = columnText(s, c++);
  fn.description = columnText(s, c++);
  fn.memory_mb = sqlite3_column_int(s, c++);
  fn.timeout_s = sqlite3_column_int(s, c++);
  fn.ephemeral_storage_mb = sqlite3_column_int(s, c++);
  fn.architecture = columnText(s, c++);
  fn.package_type = columnText(s, c++);
  fn.tracing_mode = columnText(s, c++);
  fn.log_format = columnText(s, c++);
  const unsigned char* env = sqlite3_column_text(s, c);
  KD_TRY_STATUS(environmentFromJson(
      std::string_view(env ? reinterpret_cast<const char*>(env) : "{}",
                       env ? static_cast<size_t>(sqlite3_column_bytes(s, c)) : 2),
      fn.environment));
  ++c;
  fn.code_sha256 = columnText(s, c++);
  fn.code_sha256_hex = columnText(s, c++);
  fn.code_size = sqlite3_column_int64(s, c++);
  fn.last_modified_ms = sqlite3_column_int64(s, c++);
  fn.revision_id = columnText(s, c++);
  fn.version = columnText(s, c++);
  return {};
}

// Binds the function columns in KD_FUNCTION_COLUMNS order.
void bindFunction(Use& use, const FunctionConfig& fn, std::string_view environment_json) {
  use.text(fn.name)
      .text(fn.runtime)
      .text(fn.handler)
      .text(fn.role)
      .text(fn.description)
      .i64(fn.memory_mb)
      .i64(fn.timeout_s)
      .i64(fn.ephemeral_storage_mb)
      .text(fn.architecture)
      .text(fn.package_type)
      .text(fn.tracing_mode)
      .text(fn.log_format)
      .text(environment_json)
      .text(fn.code_sha256)
      .text(fn.code_sha256_hex)
      .i64(fn.code_size)
      .i64(fn.last_modified_ms)
      .text(fn.revision_id)
      .text(fn.version);
}

Status execScript(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return makeError(ErrorCode::Io, fmt::format("sqlite {}: {}", what, msg));
  }
  return {};
}

Result<int> readUserVersion(sqlite3* db) {
  Stmt stmt;
  KD_TRY_STATUS(stmt.prepare(db, "PRAGMA user_version"));
  Use use(db, stmt);
  auto row = use.step("PRAGMA user_version");
  if (!row) return tl::unexpected(std::move(row.error()));
  return *row ? sqlite3_column_int(stmt.get(), 0) : 0;
}

Status migrate(sqlite3* db) {
  auto current = readUserVersion(db);
  if (!current) return tl::unexpected(std::move(current.error()));
  if (*current > kLatestVersion) {
    return makeError(ErrorCode::Unsupported,
                     fmt::format("registry schema version {} is newer than this build's {}",
                                 *current, kLatestVersion));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    // IMMEDIATE takes the write lock up front; re-read inside it in case another process
    // migrated meanwhile.
    KD_TRY_STATUS(execScript(db, "BEGIN IMMEDIATE", "begin migration"));
    auto in_tx = readUserVersion(db);
    Status step;
    if (!in_tx) {
      step = tl::unexpected(std::move(in_tx.error()));
    } else if (*in_tx < m.version) {
      step = execScript(db, m.sql, fmt::format("migration {}", m.version));
      if (step) {
        step = execScript(db, fmt::format("PRAGMA user_version = {}", m.version).c_str(),
                          fmt::format("migration {}: set user_version", m.version));
      }
    }
    if (!step) {
      (void)execScript(db, "ROLLBACK", "rollback migration");
      return step;
    }
    KD_TRY_STATUS(execScript(db, "COMMIT", fmt::format("commit migration {}", m.version)));
    *current = m.version;
  }
  return {};
}

}  // namespace

struct Registry::Statements {
  Stmt begin, commit, rollback;
  Stmt insert_function, update_function, delete_function;
  Stmt select_function, select_all_functions, select_function_id;
  Stmt select_tags, select_all_tags, upsert_tag, delete_tag;
  Stmt count_code_refs, user_version;

  Status prepare(sqlite3* db) {
    KD_TRY_STATUS(begin.prepare(db, "BEGIN IMMEDIATE"));
    KD_TRY_STATUS(commit.prepare(db, "COMMIT"));
    KD_TRY_STATUS(rollback.prepare(db, "ROLLBACK"));
    KD_TRY_STATUS(insert_function.prepare(
        db, "INSERT INTO functions (" KD_FUNCTION_COLUMNS
            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    KD_TRY_STATUS(update_function.prepare(
        db,
        "UPDATE functions SET runtime=?2, handler=?3, role=?4, description=?5, memory_mb=?6, "
        "timeout_s=?7, ephemeral_storage_mb=?8, architecture=?9, package_type=?10, "
        "tracing_mode=?11, log_format=?12, environment=?13, code_sha256=?14, "
        "code_sha256_hex=?15, code_size=?16, last_modified_ms=?17, revision_id=?18, "
        "version=?19 WHERE name=?1"));
    KD_TRY_STATUS(delete_function.prepare(db, "DELETE FROM functions WHERE name=?"));
    KD_TRY_STATUS(select_function.prepare(
        db, "SELECT id, " KD_FUNCTION_COLUMNS " FROM functions WHERE name=?"));
    KD_TRY_STATUS(select_all_functions.prepare(
        db, "SELECT id, " KD_FUNCTION_COLUMNS " FROM functions ORDER BY name"));
    KD_TRY_STATUS(select_function_id.prepare(db, "SELECT id FROM functions WHERE name=?"));
    KD_TRY_STATUS(
        select_tags.prepare(db, "SELECT key, value FROM function_tags WHERE function_id=?"));
    KD_TRY_STATUS(select_all_tags.prepare(db, "SELECT function_id, key, value FROM function_tags"));
    KD_TRY_STATUS(upsert_tag.prepare(
        db, "INSERT INTO function_tags (function_id, key, value) VALUES (?,?,?) "
            "ON CONFLICT (function_id, key) DO UPDATE SET value=excluded.value"));
    KD_TRY_STATUS(
        delete_tag.prepare(db, "DELETE FROM function_tags WHERE function_id=? AND key=?"));
    KD_TRY_STATUS(count_code_refs.prepare(
        db, "SELECT COUNT(*) FROM functions WHERE code_sha256_hex=?"));
    KD_TRY_STATUS(user_version.prepare(db, "PRAGMA user_version"));
    return {};
  }
};

namespace {

// BEGIN IMMEDIATE ... COMMIT on cached statements; rolls back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const Stmt& begin, const Stmt& commit, const Stmt& rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    Use use(db_, begin);
    status_ = use.run("BEGIN");
  }
  ~Transaction() {
    if (status_ && !committed_) {
      Use use(db_, rollback_);
      (void)use.run("ROLLBACK");
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const Status& begun() const { return status_; }
  Status commit() {
    Use use(db_, commit_);
    KD_TRY_STATUS(use.run("COMMIT"));
    committed_ = true;
    return {};
  }

 private:
  sqlite3* db_;
  const Stmt& commit_;
  const Stmt& rollback_;
  Status status_;
  bool committed_ = false;
};

}  // namespace

Registry::~Registry() {
  statements_.reset();  // finalize before closing
  if (db_ != nullptr) sqlite3_close(db_);
}

int Registry::latestSchemaVersion() { return kLatestVersion; }

Result<std::unique_ptr<Registry>> Registry::open(const std::filesystem::path& db_path) {
  std::error_code ec;
  if (db_path.has_parent_path()) fs::create_directories(db_path.parent_path(), ec);
  std::unique_ptr<Registry> reg(new Registry());
  auto st = reg->init(db_path);
  if (!st) {
    return tl::unexpected(
        std::move(st.error()).wrap(fmt::format("registry '{}'", db_path.string())));
  }
  return reg;
}

Status Registry::init(const std::filesystem::path& db_path) {
  // NOMUTEX: the connection is used under mutex_ only.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(db_path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    if (db_ == nullptr) return makeError(ErrorCode::Internal, "sqlite3_open_v2: out of memory");
    return dbError(db_, "open");
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 5000);
  {
    Stmt wal;
    KD_TRY_STATUS(wal.prepare(db_, "PRAGMA journal_mode=WAL"));
    Use use(db_, wal);
    auto row = use.step("PRAGMA journal_mode=WAL");
    if (!row) return tl::unexpected(std::move(row.error()));
    // ":memory:" databases report "memory" and cannot use WAL; that is fine for them.
    const std::string mode = *row ? columnText(wal.get(), 0) : std::string();
    if (mode != "wal" && !(mode == "memory" && db_path == ":memory:")) {
      return makeError(ErrorCode::Io, "cannot switch to WAL journal mode");
    }
  }
  KD_TRY_STATUS(execScript(db_, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", "pragmas"));
  KD_TRY_STATUS(migrate(db_));
  statements_ = std::make_unique<Statements>();
  return statements_->prepare(db_);
}

Result<int64_t> Registry::functionId(std::string_view name) const {
  Use use(db_, statements_->select_function_id);
  auto row = use.text(name).step("select function id");
  if (!row) return tl::unexpected(std::move(row.error()));
  if (!*row) return functionNotFound(name);
  return sqlite3_column_int64(use.get(), 0);
}

Status Registry::readTags(int64_t id, std::map<std::string, std::string>& tags) const {
  tags.clear();
  Use use(db_, statements_->select_tags);
  use.i64(id);
  for (;;) {
    auto row = use.step("select tags");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return {};
    tags.emplace(columnText(use.get(), 0), columnText(use.get(), 1));
  }
}

Status Registry::insertTags(int64_t id, const std::map<std::string, std::string>& tags) {
  for (const auto& [key, value] : tags) {
    Use use(db_, statements_->upsert_tag);
    KD_TRY_STATUS(use.i64(id).text(key).text(value).run("upsert tag"));
  }
  return {};
}

Status Registry::createFunction(const FunctionConfig& fn) {
  auto env = environmentToJson(fn.environment);
  if (!env) return tl::unexpected(std::move(env.error()));
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  {
    Use use(db_, s.insert_function);
    bindFunction(use, fn, *env);
    auto st = use.run("insert function");
    if (!st) {
      const int ext = sqlite3_extended_errcode(db_);
      if (ext == SQLITE_CONSTRAINT_UNIQUE) {
        return makeError(ErrorCode::Conflict, fmt::format("Function already exist: {}", fn.name));
      }
      return st;
    }
  }
  KD_TRY_STATUS(insertTags(sqlite3_last_insert_rowid(db_), fn.tags));
  return tx.commit();
}

Result<FunctionConfig> Registry::getFunction(std::string_view name) const {
  std::lock_guard lock(mutex_);
  FunctionConfig fn;
  int64_t id = 0;
  {
    Use use(db_, statements_->select_function);
    auto row = use.text(name).step("select function");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return functionNotFound(name);
    id = sqlite3_column_int64(use.get(), 0);
    KD_TRY_STATUS(readFunctionRow(use.get(), fn));
  }
  KD_TRY_STATUS(readTags(id, fn.tags));
  return fn;
}

Result<std::vector<FunctionConfig>> Registry::listFunctions() const {
  std::lock_guard lock(mutex_);
  std::vector<FunctionConfig> out;
  std::unordered_map<int64_t, size_t> index_by_id;
  {
    Use use(db_, statements_->select_all_functions);
    for (;;) {
      auto row = use.step("select functions");
      if (!row) return tl::unexpected(std::move(row.error()));
      if (!*row) break;
      index_by_id.emplace(sqlite3_column_int64(use.get(), 0), out.size());
      KD_TRY_STATUS(readFunctionRow(use.get(), out.emplace_back()));
    }
  }
  Use use(db_, statements_->select_all_tags);
  for (;;) {
    auto row = use.step("select all tags");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) break;
    auto it = index_by_id.find(sqlite3_column_int64(use.get(), 0));
    if (it == index_by_id.end()) continue;  // cannot happen inside one read snapshot
    out[it->second].tags.emplace(columnText(use.get(), 1), columnText(use.get(), 2));
  }
  return out;
}

Status Registry::updateFunction(const FunctionConfig& fn) {
  auto env = environmentToJson(fn.environment);
  if (!env) return tl::unexpected(std::move(env.error()));
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->update_function);
  bindFunction(use, fn, *env);
  KD_TRY_STATUS(use.run("update function"));
  if (sqlite3_changes(db_) == 0) return functionNotFound(fn.name);
  return {};
}

Status Registry::deleteFunction(std::string_view name) {
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->delete_function);
  KD_TRY_STATUS(use.text(name).run("delete function"));  // tags go by ON DELETE CASCADE
  if (sqlite3_changes(db_) == 0) return functionNotFound(name);
  return {};
}

Status Registry::tagFunction(std::string_view name,
                             const std::map<std::string, std::string>& tags) {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  auto id = functionId(name);
  if (!id) return tl::unexpected(std::move(id.error()));
  KD_TRY_STATUS(insertTags(*id, tags));
  return tx.commit();
}

Status Registry::untagFunction(std::string_view name, const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  auto id = functionId(name);
  if (!id) return tl::unexpected(std::move(id.error()));
  for (const std::string& key : keys) {
    Use use(db_, s.delete_tag);
    KD_TRY_STATUS(use.i64(*id).text(key).run("delete tag"));
  }
  return tx.commit();
}

Result<int> Registry::codeReferences(const std::string& sha256_hex) const {
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->count_code_refs);
  auto row = use.text(sha256_hex).step("count code references");
  if (!row) return tl::unexpected(std::move(row.error()));
  return *row ? sqlite3_column_int(use.get(), 0) : 0;
}

Result<int> Registry::schemaVersion() const {
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->user_version);
  auto row = use.step("PRAGMA user_version");
  if (!row) return tl::unexpected(std::move(row.error()));
  return *row ? sqlite3_column_int(use.get(), 0) : 0;
}

}  // namespace kindling::store
