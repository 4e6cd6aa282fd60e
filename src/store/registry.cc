#include "store/registry.h"

#include <climits>
#include <optional>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "store/sqlite.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using sql::columnText;
using sql::dbError;
using sql::execScript;
using sql::Stmt;
using sql::Transaction;
using sql::Use;

tl::unexpected<Error> functionNotFound(std::string_view name) {
  return makeError(ErrorCode::NotFound, fmt::format("Function not found: {}", name));
}

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
    // 2: the control plane: versions, aliases, concurrency, event-invoke configs.
    {2, R"sql(
      ALTER TABLE functions ADD COLUMN layers TEXT NOT NULL DEFAULT '[]';  -- JSON [LayerRef]
      ALTER TABLE functions ADD COLUMN dead_letter_arn TEXT NOT NULL DEFAULT '';
      ALTER TABLE functions ADD COLUMN reserved_concurrency INTEGER;  -- NULL: unreserved
      ALTER TABLE functions ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE functions ADD COLUMN published_revision TEXT NOT NULL DEFAULT '';
      CREATE TABLE function_versions (
        function_id INTEGER NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        config TEXT NOT NULL,  -- JSON of the FunctionConfig as published (immutable)
        code_sha256_hex TEXT NOT NULL,
        PRIMARY KEY (function_id, version)
      ) WITHOUT ROWID;
      CREATE INDEX function_versions_by_code ON function_versions(code_sha256_hex);
      CREATE TABLE aliases (
        function_id INTEGER NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        function_version TEXT NOT NULL,
        description TEXT NOT NULL,
        routing TEXT NOT NULL DEFAULT '{}',  -- JSON {version: weight}
        revision_id TEXT NOT NULL,
        PRIMARY KEY (function_id, name)
      ) WITHOUT ROWID;
      CREATE TABLE provisioned_concurrency (
        function_id INTEGER NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        requested INTEGER NOT NULL,
        last_modified_ms INTEGER NOT NULL,
        PRIMARY KEY (function_id, qualifier)
      ) WITHOUT ROWID;
      CREATE TABLE event_invoke_configs (
        function_id INTEGER NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        max_retry_attempts INTEGER,   -- NULL: Lambda's default (2)
        max_event_age_s INTEGER,      -- NULL: Lambda's default (21600)
        on_success TEXT NOT NULL DEFAULT '',
        on_failure TEXT NOT NULL DEFAULT '',
        last_modified_ms INTEGER NOT NULL,
        PRIMARY KEY (function_id, qualifier)
      ) WITHOUT ROWID;
    )sql"},
    // 3: layers (layer versions are numbered per name and never reused).
    {3, R"sql(
      CREATE TABLE layer_names (
        name TEXT PRIMARY KEY,
        last_version INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE layer_versions (
        name TEXT NOT NULL REFERENCES layer_names(name),
        version INTEGER NOT NULL,
        description TEXT NOT NULL,
        license_info TEXT NOT NULL,
        compatible_runtimes TEXT NOT NULL DEFAULT '[]',
        compatible_architectures TEXT NOT NULL DEFAULT '[]',
        code_sha256 TEXT NOT NULL,
        code_sha256_hex TEXT NOT NULL,
        code_size INTEGER NOT NULL,
        unzipped_size INTEGER NOT NULL,  -- extracted bytes, for the 250 MB function+layers limit
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (name, version)
      ) WITHOUT ROWID;
      CREATE INDEX layer_versions_by_code ON layer_versions(code_sha256_hex);
    )sql"},
    // 4: asynchronous invocation (src/async): the durable event queue and local SQS-style
    // queues. Due order of async_events is kept in memory by async::EventQueue (loaded at open),
    // so the table needs no index beyond its key.
    {4, R"sql(
      CREATE TABLE async_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        qualifier TEXT NOT NULL,               -- '' = $LATEST
        payload BLOB NOT NULL,                 -- the event as invoked (JSON)
        enqueued_ms INTEGER NOT NULL,          -- epoch ms: MaximumEventAgeInSeconds counts from here
        attempts INTEGER NOT NULL DEFAULT 0,   -- times the function ran
        throttles INTEGER NOT NULL DEFAULT 0,  -- consecutive throttles/system errors (backoff)
        next_attempt_ms INTEGER NOT NULL,      -- epoch ms the event is due
        last_response TEXT NOT NULL DEFAULT '',        -- last function error payload
        last_version TEXT NOT NULL DEFAULT '',         -- version that produced it
        last_function_error TEXT NOT NULL DEFAULT ''   -- "Unhandled" or ''
      );
      CREATE TABLE queue_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        queue TEXT NOT NULL,                   -- queue name (the last field of its ARN)
        message_id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}', -- JSON SQS MessageAttributes
        sent_ms INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        visible_after_ms INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX queue_messages_by_queue ON queue_messages(queue, visible_after_ms, id);
    )sql"},
    // 5: SnapStart. functions.snap_start is $LATEST's ApplyOn; function_versions.snap_start the
    // ApplyOn a version was published with ('PublishedVersions' = OptimizationStatus On).
    {5, R"sql(
      ALTER TABLE functions ADD COLUMN snap_start TEXT NOT NULL DEFAULT 'None';
      ALTER TABLE function_versions ADD COLUMN snap_start TEXT NOT NULL DEFAULT 'None';
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
  "code_sha256_hex, code_size, last_modified_ms, revision_id, version, layers, "            \
  "dead_letter_arn, snap_start"
constexpr int kFunctionColumnCount = 22;
// Per-function bookkeeping selected after the KD_FUNCTION_COLUMNS by the record queries.
#define KD_FUNCTION_STATE_COLUMNS "reserved_concurrency, last_version, published_revision"

std::string_view columnView(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  return p ? std::string_view(reinterpret_cast<const char*>(p),
                              static_cast<size_t>(sqlite3_column_bytes(s, col)))
           : std::string_view();
}

std::optional<int> columnOptionalInt(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int(s, col);
}

tl::unexpected<Error> corrupt(std::string_view what) {
  return makeError(ErrorCode::Internal, fmt::format("registry: corrupt {}", what));
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

// Layer refs as a JSON array of {arn, code_sha256_hex, code_size} (functions.layers and the
// "layers" member of a published version's config).
nlohmann::json layersJson(const std::vector<LayerRef>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const LayerRef& layer : layers) {
    out.push_back({{"arn", layer.arn},
                   {"code_sha256_hex", layer.code_sha256_hex},
                   {"code_size", layer.code_size}});
  }
  return out;
}

// Throws nlohmann::json::exception on a type mismatch (callers catch).
Status layersFromJson(const nlohmann::json& j, std::vector<LayerRef>& layers) {
  if (!j.is_array()) return corrupt("layers");
  layers.clear();
  layers.reserve(j.size());
  for (const nlohmann::json& item : j) {
    if (!item.is_object()) return corrupt("layer ref");
    LayerRef& ref = layers.emplace_back();
    ref.arn = item.value("arn", std::string());
    ref.code_sha256_hex = item.value("code_sha256_hex", std::string());
    ref.code_size = item.value("code_size", int64_t{0});
  }
  return {};
}

Result<std::string> layersToText(const std::vector<LayerRef>& layers) {
  if (layers.empty()) return std::string("[]");
  try {
    return layersJson(layers).dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("layer ARNs are not valid UTF-8: {}", e.what()));
  }
}

Status layersFromText(std::string_view text, std::vector<LayerRef>& layers) {
  if (text == "[]" || text.empty()) {
    layers.clear();
    return {};
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  try {
    return layersFromJson(j, layers);
  } catch (const nlohmann::json::exception&) {
    return corrupt("layers column");
  }
}

// Published-version codec: every FunctionConfig field except tags (tags are function-level;
// readers fill them from the function). Field names are the struct's; a member missing from an
// older row reads as the struct default.
Result<std::string> versionConfigToText(const FunctionConfig& fn) {
  try {
    nlohmann::json j = {
        {"name", fn.name},
        {"runtime", fn.runtime},
        {"handler", fn.handler},
        {"role", fn.role},
        {"description", fn.description},
        {"memory_mb", fn.memory_mb},
        {"timeout_s", fn.timeout_s},
        {"ephemeral_storage_mb", fn.ephemeral_storage_mb},
        {"architecture", fn.architecture},
        {"package_type", fn.package_type},
        {"tracing_mode", fn.tracing_mode},
        {"log_format", fn.log_format},
        {"environment", fn.environment},
        {"code_sha256", fn.code_sha256},
        {"code_sha256_hex", fn.code_sha256_hex},
        {"code_size", fn.code_size},
        {"last_modified_ms", fn.last_modified_ms},
        {"revision_id", fn.revision_id},
        {"version", fn.version},
        {"layers", layersJson(fn.layers)},
        {"dead_letter_arn", fn.dead_letter_arn},
    };
    return j.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("function configuration is not valid UTF-8: {}", e.what()));
  }
}

Status versionConfigFromText(std::string_view text, FunctionConfig& fn) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return corrupt("version config");
  try {
    const FunctionConfig d;
    fn.name = j.value("name", d.name);
    fn.runtime = j.value("runtime", d.runtime);
    fn.handler = j.value("handler", d.handler);
    fn.role = j.value("role", d.role);
    fn.description = j.value("description", d.description);
    fn.memory_mb = j.value("memory_mb", d.memory_mb);
    fn.timeout_s = j.value("timeout_s", d.timeout_s);
    fn.ephemeral_storage_mb = j.value("ephemeral_storage_mb", d.ephemeral_storage_mb);
    fn.architecture = j.value("architecture", d.architecture);
    fn.package_type = j.value("package_type", d.package_type);
    fn.tracing_mode = j.value("tracing_mode", d.tracing_mode);
    fn.log_format = j.value("log_format", d.log_format);
    fn.environment.clear();
    if (auto it = j.find("environment"); it != j.end()) {
      if (!it->is_object()) return corrupt("version environment");
      for (auto& [key, value] : it->items()) {
        fn.environment.emplace(key, value.get<std::string>());
      }
    }
    fn.code_sha256 = j.value("code_sha256", d.code_sha256);
    fn.code_sha256_hex = j.value("code_sha256_hex", d.code_sha256_hex);
    fn.code_size = j.value("code_size", d.code_size);
    fn.last_modified_ms = j.value("last_modified_ms", d.last_modified_ms);
    fn.revision_id = j.value("revision_id", d.revision_id);
    fn.version = j.value("version", d.version);
    fn.layers.clear();
    if (auto it = j.find("layers"); it != j.end()) KD_TRY_STATUS(layersFromJson(*it, fn.layers));
    fn.dead_letter_arn = j.value("dead_letter_arn", d.dead_letter_arn);
  } catch (const nlohmann::json::exception&) {  // a member of the wrong type
    return corrupt("version config");
  }
  return {};
}

// Alias routing as a JSON object {"<version>": weight}.
Result<std::string> routingToText(const std::map<std::string, double>& weights) {
  if (weights.empty()) return std::string("{}");
  try {
    return nlohmann::json(weights).dump();
  } catch (const nlohmann::json::exception& e) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("alias routing is not valid UTF-8: {}", e.what()));
  }
}

Status routingFromText(std::string_view text, std::map<std::string, double>& weights) {
  weights.clear();
  if (text == "{}" || text.empty()) return {};
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return corrupt("alias routing");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number()) return corrupt("alias routing weight");
    weights.emplace(key, value.get<double>());
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
  KD_TRY_STATUS(layersFromText(columnView(s, c++), fn.layers));
  fn.dead_letter_arn = columnText(s, c++);
  fn.snap_start_apply_on = columnText(s, c++);
  return {};
}

// Binds the function columns in KD_FUNCTION_COLUMNS order.
void bindFunction(Use& use, const FunctionConfig& fn, std::string_view environment_json,
                  std::string_view layers_json) {
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
      .text(fn.version)
      .text(layers_json)
      .text(fn.dead_letter_arn)
      .text(fn.snap_start_apply_on);
}

// Reads the KD_FUNCTION_STATE_COLUMNS that follow the function columns of a record row.
void readStateColumns(sqlite3_stmt* s, FunctionRecord& rec, std::string* published_revision) {
  int c = 1 + kFunctionColumnCount;
  rec.reserved_concurrency = columnOptionalInt(s, c++);
  rec.last_version = sqlite3_column_int(s, c++);
  if (published_revision != nullptr) *published_revision = columnText(s, c);
}

// A published version number: decimal digits only, 1..INT_MAX; nullopt otherwise.
std::optional<int> parseVersionNumber(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  if (v < 1 || v > INT_MAX) return std::nullopt;
  return static_cast<int>(v);
}

tl::unexpected<Error> versionNotFound(std::string_view name, std::string_view version) {
  return makeError(ErrorCode::NotFound, fmt::format("Function not found: {}:{}", name, version));
}

tl::unexpected<Error> aliasNotFound(std::string_view alias) {
  return makeError(ErrorCode::NotFound, fmt::format("Alias not found: {}", alias));
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

// Steps `use` to the end, calling fn(stmt) -> Status on every row.
template <typename Fn>
Status eachRow(Use& use, std::string_view what, Fn&& fn) {
  for (;;) {
    auto row = use.step(what);
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return {};
    KD_TRY_STATUS(fn(use.get()));
  }
}

// The child tables of a function, read with statements whose column 0 is function_id; `find`
// maps a function id to its record (nullptr: skip the row). Versions take their tags from the
// record's $LATEST, so tags must be read first.
struct ChildStatements {
  const Stmt& versions;     // function_id, version, config, snap_start
  const Stmt& aliases;      // function_id, name, function_version, description, routing, rev
  const Stmt& provisioned;  // function_id, qualifier, requested, last_modified_ms
  const Stmt& events;  // function_id, qualifier, retries, age, on_success, on_failure, modified
};

template <typename Find>
Status readChildren(sqlite3* db, const ChildStatements& st, std::optional<int64_t> id,
                    Find&& find) {
  auto bind = [&](Use& use) -> Use& { return id ? use.i64(*id) : use; };
  {
    Use use(db, st.versions);
    KD_TRY_STATUS(eachRow(bind(use), "select versions", [&](sqlite3_stmt* s) -> Status {
      FunctionRecord* rec = find(sqlite3_column_int64(s, 0));
      if (rec == nullptr) return {};
      const int number = sqlite3_column_int(s, 1);
      FunctionConfig& v = rec->versions[number];
      KD_TRY_STATUS(versionConfigFromText(columnView(s, 2), v));
      v.snap_start_apply_on = columnText(s, 3);
      v.tags = rec->latest.tags;
      return {};
    }));
  }
  {
    Use use(db, st.aliases);
    KD_TRY_STATUS(eachRow(bind(use), "select aliases", [&](sqlite3_stmt* s) -> Status {
      FunctionRecord* rec = find(sqlite3_column_int64(s, 0));
      if (rec == nullptr) return {};
      std::string name = columnText(s, 1);
      Alias& alias = rec->aliases[name];
      alias.name = std::move(name);
      alias.function_version = columnText(s, 2);
      alias.description = columnText(s, 3);
      KD_TRY_STATUS(routingFromText(columnView(s, 4), alias.additional_weights));
      alias.revision_id = columnText(s, 5);
      return {};
    }));
  }
  {
    Use use(db, st.provisioned);
    KD_TRY_STATUS(eachRow(bind(use), "select provisioned", [&](sqlite3_stmt* s) -> Status {
      FunctionRecord* rec = find(sqlite3_column_int64(s, 0));
      if (rec == nullptr) return {};
      std::string qualifier = columnText(s, 1);
      ProvisionedConfig& pc = rec->provisioned[qualifier];
      pc.qualifier = std::move(qualifier);
      pc.requested = sqlite3_column_int(s, 2);
      pc.last_modified_ms = sqlite3_column_int64(s, 3);
      return {};
    }));
  }
  Use use(db, st.events);
  return eachRow(bind(use), "select event invoke configs", [&](sqlite3_stmt* s) -> Status {
    FunctionRecord* rec = find(sqlite3_column_int64(s, 0));
    if (rec == nullptr) return {};
    std::string qualifier = columnText(s, 1);
    EventInvokeConfig& ec = rec->event_invoke[qualifier];
    ec.qualifier = std::move(qualifier);
    ec.max_retry_attempts = columnOptionalInt(s, 2);
    ec.max_event_age_s = columnOptionalInt(s, 3);
    ec.on_success = columnText(s, 4);
    ec.on_failure = columnText(s, 5);
    ec.last_modified_ms = sqlite3_column_int64(s, 6);
    return {};
  });
}

// Whether `stmt` (bound to function_id, key) returns a row.
Result<bool> rowExists(sqlite3* db, const Stmt& stmt, int64_t id, std::string_view key,
                       std::string_view what) {
  Use use(db, stmt);
  return use.i64(id).text(key).step(what);
}

}  // namespace

struct Registry::Statements {
  Stmt begin, begin_read, commit, rollback;
  Stmt insert_function, update_function, delete_function;
  Stmt select_function, select_all_functions, select_function_id;
  Stmt select_tags, select_all_tags, upsert_tag, delete_tag;
  Stmt select_versions, select_all_versions, select_version, version_exists;
  Stmt insert_version, delete_version, update_publish_state, aliases_routing_to;
  Stmt select_aliases, select_all_aliases, alias_exists, insert_alias, update_alias, delete_alias;
  Stmt set_reserved;
  Stmt select_provisioned, select_all_provisioned, upsert_provisioned, delete_provisioned;
  Stmt select_events, select_all_events, upsert_event, delete_event;
  Stmt count_code_refs, user_version;

  ChildStatements perFunction() const {
    return {select_versions, select_aliases, select_provisioned, select_events};
  }
  ChildStatements all() const {
    return {select_all_versions, select_all_aliases, select_all_provisioned, select_all_events};
  }

  Status prepare(sqlite3* db) {
    KD_TRY_STATUS(begin.prepare(db, "BEGIN IMMEDIATE"));
    KD_TRY_STATUS(begin_read.prepare(db, "BEGIN"));  // deferred: a read snapshot
    KD_TRY_STATUS(commit.prepare(db, "COMMIT"));
    KD_TRY_STATUS(rollback.prepare(db, "ROLLBACK"));
    KD_TRY_STATUS(insert_function.prepare(
        db, "INSERT INTO functions (" KD_FUNCTION_COLUMNS
            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    KD_TRY_STATUS(update_function.prepare(
        db,
        "UPDATE functions SET runtime=?2, handler=?3, role=?4, description=?5, memory_mb=?6, "
        "timeout_s=?7, ephemeral_storage_mb=?8, architecture=?9, package_type=?10, "
        "tracing_mode=?11, log_format=?12, environment=?13, code_sha256=?14, "
        "code_sha256_hex=?15, code_size=?16, last_modified_ms=?17, revision_id=?18, "
        "version=?19, layers=?20, dead_letter_arn=?21, snap_start=?22 WHERE name=?1"));
    KD_TRY_STATUS(delete_function.prepare(db, "DELETE FROM functions WHERE name=?"));
    KD_TRY_STATUS(select_function.prepare(
        db, "SELECT id, " KD_FUNCTION_COLUMNS ", " KD_FUNCTION_STATE_COLUMNS
            " FROM functions WHERE name=?"));
    KD_TRY_STATUS(select_all_functions.prepare(
        db, "SELECT id, " KD_FUNCTION_COLUMNS ", " KD_FUNCTION_STATE_COLUMNS
            " FROM functions ORDER BY name"));
    KD_TRY_STATUS(select_function_id.prepare(db, "SELECT id FROM functions WHERE name=?"));
    KD_TRY_STATUS(
        select_tags.prepare(db, "SELECT key, value FROM function_tags WHERE function_id=?"));
    KD_TRY_STATUS(select_all_tags.prepare(db, "SELECT function_id, key, value FROM function_tags"));
    KD_TRY_STATUS(upsert_tag.prepare(
        db, "INSERT INTO function_tags (function_id, key, value) VALUES (?,?,?) "
            "ON CONFLICT (function_id, key) DO UPDATE SET value=excluded.value"));
    KD_TRY_STATUS(
        delete_tag.prepare(db, "DELETE FROM function_tags WHERE function_id=? AND key=?"));

    // Published versions.
    KD_TRY_STATUS(select_versions.prepare(
        db, "SELECT function_id, version, config, snap_start FROM function_versions "
            "WHERE function_id=?"));
    KD_TRY_STATUS(select_all_versions.prepare(
        db, "SELECT function_id, version, config, snap_start FROM function_versions"));
    KD_TRY_STATUS(select_version.prepare(
        db, "SELECT config, snap_start FROM function_versions WHERE function_id=? AND version=?"));
    KD_TRY_STATUS(version_exists.prepare(
        db, "SELECT 1 FROM function_versions WHERE function_id=? AND version=CAST(? AS INTEGER)"));
    KD_TRY_STATUS(insert_version.prepare(
        db, "INSERT INTO function_versions (function_id, version, config, code_sha256_hex, "
            "snap_start) VALUES (?,?,?,?,?)"));
    KD_TRY_STATUS(delete_version.prepare(
        db, "DELETE FROM function_versions WHERE function_id=? AND version=?"));
    KD_TRY_STATUS(update_publish_state.prepare(
        db, "UPDATE functions SET last_version=?2, published_revision=?3 WHERE id=?1"));
    KD_TRY_STATUS(aliases_routing_to.prepare(
        db, "SELECT name FROM aliases WHERE function_id=?1 AND (function_version=?2 OR "
            "EXISTS (SELECT 1 FROM json_each(aliases.routing) WHERE json_each.key=?2)) "
            "ORDER BY name"));

    // Aliases.
    KD_TRY_STATUS(select_aliases.prepare(
        db, "SELECT function_id, name, function_version, description, routing, revision_id "
            "FROM aliases WHERE function_id=?"));
    KD_TRY_STATUS(select_all_aliases.prepare(
        db, "SELECT function_id, name, function_version, description, routing, revision_id "
            "FROM aliases"));
    KD_TRY_STATUS(
        alias_exists.prepare(db, "SELECT 1 FROM aliases WHERE function_id=? AND name=?"));
    KD_TRY_STATUS(insert_alias.prepare(
        db, "INSERT INTO aliases (function_id, name, function_version, description, routing, "
            "revision_id) VALUES (?,?,?,?,?,?)"));
    KD_TRY_STATUS(update_alias.prepare(
        db, "UPDATE aliases SET function_version=?3, description=?4, routing=?5, "
            "revision_id=?6 WHERE function_id=?1 AND name=?2"));
    KD_TRY_STATUS(
        delete_alias.prepare(db, "DELETE FROM aliases WHERE function_id=? AND name=?"));

    // Concurrency and event-invoke settings (the has-value flag keeps NULL for "unset").
    KD_TRY_STATUS(set_reserved.prepare(
        db, "UPDATE functions SET reserved_concurrency=CASE WHEN ?2 THEN ?3 END WHERE name=?1"));
    KD_TRY_STATUS(select_provisioned.prepare(
        db, "SELECT function_id, qualifier, requested, last_modified_ms "
            "FROM provisioned_concurrency WHERE function_id=?"));
    KD_TRY_STATUS(select_all_provisioned.prepare(
        db, "SELECT function_id, qualifier, requested, last_modified_ms "
            "FROM provisioned_concurrency"));
    KD_TRY_STATUS(upsert_provisioned.prepare(
        db, "INSERT INTO provisioned_concurrency (function_id, qualifier, requested, "
            "last_modified_ms) VALUES (?,?,?,?) ON CONFLICT (function_id, qualifier) DO UPDATE "
            "SET requested=excluded.requested, last_modified_ms=excluded.last_modified_ms"));
    KD_TRY_STATUS(delete_provisioned.prepare(
        db, "DELETE FROM provisioned_concurrency WHERE function_id=? AND qualifier=?"));
    KD_TRY_STATUS(select_events.prepare(
        db, "SELECT function_id, qualifier, max_retry_attempts, max_event_age_s, on_success, "
            "on_failure, last_modified_ms FROM event_invoke_configs WHERE function_id=?"));
    KD_TRY_STATUS(select_all_events.prepare(
        db, "SELECT function_id, qualifier, max_retry_attempts, max_event_age_s, on_success, "
            "on_failure, last_modified_ms FROM event_invoke_configs"));
    KD_TRY_STATUS(upsert_event.prepare(
        db, "INSERT INTO event_invoke_configs (function_id, qualifier, max_retry_attempts, "
            "max_event_age_s, on_success, on_failure, last_modified_ms) "
            "VALUES (?1, ?2, CASE WHEN ?3 THEN ?4 END, CASE WHEN ?5 THEN ?6 END, ?7, ?8, ?9) "
            "ON CONFLICT (function_id, qualifier) DO UPDATE SET "
            "max_retry_attempts=excluded.max_retry_attempts, "
            "max_event_age_s=excluded.max_event_age_s, on_success=excluded.on_success, "
            "on_failure=excluded.on_failure, last_modified_ms=excluded.last_modified_ms"));
    KD_TRY_STATUS(delete_event.prepare(
        db, "DELETE FROM event_invoke_configs WHERE function_id=? AND qualifier=?"));

    // Every user of a code package: function and version code, layer versions, and the layer
    // refs pinned inside functions and versions (a substring match on the hex digest).
    KD_TRY_STATUS(count_code_refs.prepare(
        db,
        "SELECT (SELECT COUNT(*) FROM functions WHERE code_sha256_hex=?1)"
        " + (SELECT COUNT(*) FROM function_versions WHERE code_sha256_hex=?1)"
        " + (SELECT COUNT(*) FROM layer_versions WHERE code_sha256_hex=?1)"
        " + CASE WHEN length(?1) = 0 THEN 0 ELSE"
        "   (SELECT COUNT(*) FROM functions WHERE instr(layers, ?1) > 0)"
        "   + (SELECT COUNT(*) FROM function_versions"
        "      WHERE instr(json_extract(config, '$.layers'), ?1) > 0) END"));
    KD_TRY_STATUS(user_version.prepare(db, "PRAGMA user_version"));
    return {};
  }
};

Registry::~Registry() {
  statements_.reset();  // finalize before the connection closes
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
  auto conn = sql::Connection::open(db_path);
  if (!conn) return tl::unexpected(std::move(conn.error()));
  conn_ = std::move(*conn);
  db_ = conn_.get();
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

Status Registry::createFunction(const FunctionConfig& fn, FunctionConfig* published) {
  auto env = environmentToJson(fn.environment);
  if (!env) return tl::unexpected(std::move(env.error()));
  auto layers = layersToText(fn.layers);
  if (!layers) return tl::unexpected(std::move(layers.error()));
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  {
    Use use(db_, s.insert_function);
    bindFunction(use, fn, *env, *layers);
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
  if (published != nullptr) {
    auto version = publishInTransaction(fn.name, fn.description, fn.last_modified_ms, nullptr);
    if (!version) return tl::unexpected(std::move(version.error()));
    *published = std::move(*version);
  }
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

Status Registry::updateFunction(const FunctionConfig& fn, FunctionConfig* published) {
  auto env = environmentToJson(fn.environment);
  if (!env) return tl::unexpected(std::move(env.error()));
  auto layers = layersToText(fn.layers);
  if (!layers) return tl::unexpected(std::move(layers.error()));
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  {
    Use use(db_, s.update_function);
    bindFunction(use, fn, *env, *layers);
    KD_TRY_STATUS(use.run("update function"));
    if (sqlite3_changes(db_) == 0) return functionNotFound(fn.name);
  }
  if (published != nullptr) {
    auto version = publishInTransaction(fn.name, fn.description, fn.last_modified_ms, nullptr);
    if (!version) return tl::unexpected(std::move(version.error()));
    *published = std::move(*version);
  }
  return tx.commit();
}

Status Registry::deleteFunction(std::string_view name) {
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->delete_function);
  // Tags, versions, aliases, provisioned and event-invoke configs go by ON DELETE CASCADE, in
  // this one statement.
  KD_TRY_STATUS(use.text(name).run("delete function"));
  if (sqlite3_changes(db_) == 0) return functionNotFound(name);
  return {};
}

template <class Body>
Status Registry::inFunctionTransaction(std::string_view name, Body&& body) {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  auto id = functionId(name);
  if (!id) return tl::unexpected(std::move(id.error()));
  KD_TRY_STATUS(body(s, *id));
  return tx.commit();
}

Status Registry::tagFunction(std::string_view name,
                             const std::map<std::string, std::string>& tags) {
  return inFunctionTransaction(name, [&](Statements&, int64_t id) -> Status {
    return insertTags(id, tags);
  });
}

Status Registry::untagFunction(std::string_view name, const std::vector<std::string>& keys) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    for (const std::string& key : keys) {
      Use use(db_, s.delete_tag);
      KD_TRY_STATUS(use.i64(id).text(key).run("delete tag"));
    }
    return {};
  });
}

Result<std::vector<FunctionRecord>> Registry::loadAll() const {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin_read, s.commit, s.rollback);  // one snapshot for every table
  KD_TRY_STATUS(tx.begun());
  std::vector<FunctionRecord> out;
  std::unordered_map<int64_t, size_t> index_by_id;
  {
    Use use(db_, s.select_all_functions);
    KD_TRY_STATUS(eachRow(use, "select functions", [&](sqlite3_stmt* st) -> Status {
      index_by_id.emplace(sqlite3_column_int64(st, 0), out.size());
      FunctionRecord& rec = out.emplace_back();
      readStateColumns(st, rec, nullptr);
      return readFunctionRow(st, rec.latest);
    }));
  }
  auto find = [&](int64_t id) -> FunctionRecord* {
    auto it = index_by_id.find(id);
    return it == index_by_id.end() ? nullptr : &out[it->second];
  };
  {
    Use use(db_, s.select_all_tags);
    KD_TRY_STATUS(eachRow(use, "select all tags", [&](sqlite3_stmt* st) -> Status {
      if (FunctionRecord* rec = find(sqlite3_column_int64(st, 0))) {
        rec->latest.tags.emplace(columnText(st, 1), columnText(st, 2));
      }
      return {};
    }));
  }
  KD_TRY_STATUS(readChildren(db_, s.all(), std::nullopt, find));
  KD_TRY_STATUS(tx.commit());
  return out;
}

Result<FunctionRecord> Registry::getRecord(std::string_view name) const {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin_read, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  FunctionRecord rec;
  int64_t id = 0;
  {
    Use use(db_, s.select_function);
    auto row = use.text(name).step("select function");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return functionNotFound(name);
    id = sqlite3_column_int64(use.get(), 0);
    readStateColumns(use.get(), rec, nullptr);
    KD_TRY_STATUS(readFunctionRow(use.get(), rec.latest));
  }
  KD_TRY_STATUS(readTags(id, rec.latest.tags));
  KD_TRY_STATUS(readChildren(db_, s.perFunction(), id,
                             [&](int64_t) -> FunctionRecord* { return &rec; }));
  KD_TRY_STATUS(tx.commit());
  return rec;
}

Result<FunctionConfig> Registry::publishVersion(std::string_view name,
                                                const std::string& description, int64_t now_ms,
                                                bool* created) {
  std::lock_guard lock(mutex_);
  Statements& s = *statements_;
  Transaction tx(db_, s.begin, s.commit, s.rollback);
  KD_TRY_STATUS(tx.begun());
  auto version = publishInTransaction(name, description, now_ms, created);
  if (!version) return version;
  KD_TRY_STATUS(tx.commit());
  return version;
}

Result<FunctionConfig> Registry::publishInTransaction(std::string_view name,
                                                     const std::string& description,
                                                     int64_t now_ms, bool* created) {
  Statements& s = *statements_;
  FunctionRecord state;  // latest + last_version
  std::string published_revision;
  int64_t id = 0;
  {
    Use use(db_, s.select_function);
    auto row = use.text(name).step("select function");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return functionNotFound(name);
    id = sqlite3_column_int64(use.get(), 0);
    readStateColumns(use.get(), state, &published_revision);
    KD_TRY_STATUS(readFunctionRow(use.get(), state.latest));
  }
  FunctionConfig& latest = state.latest;
  KD_TRY_STATUS(readTags(id, latest.tags));

  // Unchanged since the last publish: hand back that version (unless it was deleted since).
  if (state.last_version > 0 && published_revision == latest.revision_id) {
    Use use(db_, s.select_version);
    auto row = use.i64(id).i64(state.last_version).step("select version");
    if (!row) return tl::unexpected(std::move(row.error()));
    if (*row) {
      FunctionConfig existing;
      KD_TRY_STATUS(versionConfigFromText(columnView(use.get(), 0), existing));
      existing.snap_start_apply_on = columnText(use.get(), 1);
      existing.tags = std::move(latest.tags);
      if (created != nullptr) *created = false;
      return existing;
    }
  }
  if (state.last_version == INT_MAX) {
    return makeError(ErrorCode::Conflict, fmt::format("Function {} has no version numbers left",
                                                      name));
  }

  const int number = state.last_version + 1;
  const std::string latest_revision = latest.revision_id;
  FunctionConfig version = std::move(latest);
  std::map<std::string, std::string> tags = std::move(version.tags);
  version.tags.clear();
  version.version = std::to_string(number);
  if (!description.empty()) version.description = description;
  version.revision_id = uuid4();
  version.last_modified_ms = now_ms;
  auto config = versionConfigToText(version);
  if (!config) return tl::unexpected(std::move(config.error()));
  {
    Use use(db_, s.insert_version);
    KD_TRY_STATUS(use.i64(id)
                      .i64(number)
                      .text(*config)
                      .text(version.code_sha256_hex)
                      .text(version.snap_start_apply_on)
                      .run("insert version"));
  }
  {
    Use use(db_, s.update_publish_state);
    KD_TRY_STATUS(use.i64(id).i64(number).text(latest_revision).run("update publish state"));
  }
  version.tags = std::move(tags);
  if (created != nullptr) *created = true;
  return version;
}

Status Registry::deleteVersion(std::string_view name, int version) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    const std::string qualifier = std::to_string(version);
    {
      std::vector<std::string> routing_aliases;
      Use use(db_, s.aliases_routing_to);
      KD_TRY_STATUS(eachRow(use.i64(id).text(qualifier), "select aliases of version",
                            [&](sqlite3_stmt* st) -> Status {
                              routing_aliases.push_back(columnText(st, 0));
                              return {};
                            }));
      if (!routing_aliases.empty()) {
        return makeError(ErrorCode::Conflict,
                         fmt::format("Unable to delete version because the following aliases "
                                     "reference it: [{}]",
                                     fmt::join(routing_aliases, ", ")));
      }
    }
    {
      Use use(db_, s.delete_version);
      KD_TRY_STATUS(use.i64(id).i64(version).run("delete version"));
      if (sqlite3_changes(db_) == 0) return versionNotFound(name, qualifier);
    }
    {
      Use use(db_, s.delete_provisioned);
      KD_TRY_STATUS(use.i64(id).text(qualifier).run("delete provisioned of version"));
    }
    {
      Use use(db_, s.delete_event);
      KD_TRY_STATUS(use.i64(id).text(qualifier).run("delete event invoke config of version"));
    }
    return {};
  });
}

// Caller holds mutex_ inside a transaction. NotFound unless `qualifier` is "$LATEST", a
// published version of function `id`, or (when aliases are allowed) one of its aliases.
Status Registry::checkQualifier(int64_t id, std::string_view function, std::string_view qualifier,
                                bool allow_alias) const {
  if (qualifier == "$LATEST") return {};
  if (auto number = parseVersionNumber(qualifier)) {
    auto found = rowExists(db_, statements_->version_exists, id, qualifier, "select version");
    if (!found) return tl::unexpected(std::move(found.error()));
    if (*found) return {};
    return versionNotFound(function, qualifier);
  }
  if (allow_alias) {
    auto found = rowExists(db_, statements_->alias_exists, id, qualifier, "select alias");
    if (!found) return tl::unexpected(std::move(found.error()));
    if (*found) return {};
    return aliasNotFound(qualifier);
  }
  return versionNotFound(function, qualifier);
}

// Caller holds mutex_ inside a transaction: the alias's target and routing versions exist.
Status Registry::checkAliasTargets(int64_t id, std::string_view function,
                                   const Alias& alias) const {
  KD_TRY_STATUS(checkQualifier(id, function, alias.function_version, /*allow_alias=*/false));
  for (const auto& [version, weight] : alias.additional_weights) {
    (void)weight;
    KD_TRY_STATUS(checkQualifier(id, function, version, /*allow_alias=*/false));
  }
  return {};
}

Status Registry::createAlias(std::string_view function, const Alias& alias) {
  auto routing = routingToText(alias.additional_weights);
  if (!routing) return tl::unexpected(std::move(routing.error()));
  return inFunctionTransaction(function, [&](Statements& s, int64_t id) -> Status {
    KD_TRY_STATUS(checkAliasTargets(id, function, alias));
    {
      Use use(db_, s.insert_alias);
      auto st = use.i64(id)
                    .text(alias.name)
                    .text(alias.function_version)
                    .text(alias.description)
                    .text(*routing)
                    .text(alias.revision_id)
                    .run("insert alias");
      if (!st) {
        if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
          return makeError(ErrorCode::Conflict,
                           fmt::format("Alias already exists: {}", alias.name));
        }
        return st;
      }
    }
    return {};
  });
}

Status Registry::updateAlias(std::string_view function, const Alias& alias) {
  auto routing = routingToText(alias.additional_weights);
  if (!routing) return tl::unexpected(std::move(routing.error()));
  return inFunctionTransaction(function, [&](Statements& s, int64_t id) -> Status {
    {
      auto found = rowExists(db_, s.alias_exists, id, alias.name, "select alias");
      if (!found) return tl::unexpected(std::move(found.error()));
      if (!*found) return aliasNotFound(alias.name);
    }
    KD_TRY_STATUS(checkAliasTargets(id, function, alias));
    {
      Use use(db_, s.update_alias);
      KD_TRY_STATUS(use.i64(id)
                        .text(alias.name)
                        .text(alias.function_version)
                        .text(alias.description)
                        .text(*routing)
                        .text(alias.revision_id)
                        .run("update alias"));
    }
    return {};
  });
}

Status Registry::deleteAlias(std::string_view function, std::string_view alias) {
  return inFunctionTransaction(function, [&](Statements& s, int64_t id) -> Status {
    {
      Use use(db_, s.delete_alias);
      KD_TRY_STATUS(use.i64(id).text(alias).run("delete alias"));
      if (sqlite3_changes(db_) == 0) return aliasNotFound(alias);
    }
    {
      Use use(db_, s.delete_provisioned);
      KD_TRY_STATUS(use.i64(id).text(alias).run("delete provisioned of alias"));
    }
    {
      Use use(db_, s.delete_event);
      KD_TRY_STATUS(use.i64(id).text(alias).run("delete event invoke config of alias"));
    }
    return {};
  });
}

Status Registry::setReservedConcurrency(std::string_view name, std::optional<int> reserved) {
  std::lock_guard lock(mutex_);
  Use use(db_, statements_->set_reserved);
  KD_TRY_STATUS(use.text(name)
                    .i64(reserved.has_value() ? 1 : 0)
                    .i64(reserved.value_or(0))
                    .run("set reserved concurrency"));
  if (sqlite3_changes(db_) == 0) return functionNotFound(name);
  return {};
}

Status Registry::putProvisioned(std::string_view name, const ProvisionedConfig& config) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    KD_TRY_STATUS(checkQualifier(id, name, config.qualifier, /*allow_alias=*/true));
    {
      Use use(db_, s.upsert_provisioned);
      KD_TRY_STATUS(use.i64(id)
                        .text(config.qualifier)
                        .i64(config.requested)
                        .i64(config.last_modified_ms)
                        .run("upsert provisioned"));
    }
    return {};
  });
}

Status Registry::deleteProvisioned(std::string_view name, std::string_view qualifier) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    {
      Use use(db_, s.delete_provisioned);
      KD_TRY_STATUS(use.i64(id).text(qualifier).run("delete provisioned"));
      if (sqlite3_changes(db_) == 0) {
        return makeError(ErrorCode::NotFound,
                         fmt::format("No Provisioned Concurrency Config found for this function: "
                                     "{}:{}",
                                     name, qualifier));
      }
    }
    return {};
  });
}

Status Registry::putEventInvokeConfig(std::string_view name, const EventInvokeConfig& config) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    KD_TRY_STATUS(checkQualifier(id, name, config.qualifier, /*allow_alias=*/true));
    {
      Use use(db_, s.upsert_event);
      KD_TRY_STATUS(use.i64(id)
                        .text(config.qualifier)
                        .i64(config.max_retry_attempts.has_value() ? 1 : 0)
                        .i64(config.max_retry_attempts.value_or(0))
                        .i64(config.max_event_age_s.has_value() ? 1 : 0)
                        .i64(config.max_event_age_s.value_or(0))
                        .text(config.on_success)
                        .text(config.on_failure)
                        .i64(config.last_modified_ms)
                        .run("upsert event invoke config"));
    }
    return {};
  });
}

Status Registry::deleteEventInvokeConfig(std::string_view name, std::string_view qualifier) {
  return inFunctionTransaction(name, [&](Statements& s, int64_t id) -> Status {
    {
      Use use(db_, s.delete_event);
      KD_TRY_STATUS(use.i64(id).text(qualifier).run("delete event invoke config"));
      if (sqlite3_changes(db_) == 0) {
        return makeError(ErrorCode::NotFound,
                         fmt::format("The function {}:{} doesn't have an EventInvokeConfig", name,
                                     qualifier));
      }
    }
    return {};
  });
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
