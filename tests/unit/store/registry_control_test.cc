// Registry control-plane tests: layers/dead-letter columns, published versions, aliases,
// concurrency and event-invoke settings, cascades, loadAll/getRecord, code references and the
// migration of a version-1 database.
#include <sqlite3.h>

#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "store/registry.h"
#include "store_test_util.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexLayer1(64, '1');
const std::string kHexLayer2(64, '2');

FunctionConfig sampleFunction(const std::string& name) {
  FunctionConfig fn;
  fn.name = name;
  fn.runtime = "python3.12";
  fn.handler = "app.handler";
  fn.role = "arn:aws:iam::000000000000:role/lambda-role";
  fn.description = "latest \"description\" \xc3\xa9";
  fn.memory_mb = 1024;
  fn.timeout_s = 30;
  fn.ephemeral_storage_mb = 1024;
  fn.architecture = "arm64";
  fn.tracing_mode = "Active";
  fn.log_format = "JSON";
  fn.environment = {{"A", "1"}, {"JSON", "{\"k\": [1]}"}, {"EMPTY", ""}};
  fn.tags = {{"team", "core"}, {"env", "test"}};
  fn.code_sha256 = "qqqq";
  fn.code_sha256_hex = kHexA;
  fn.code_size = 12345;
  fn.last_modified_ms = 1712776000123;
  fn.revision_id = "rev-" + name + "-1";
  fn.layers = {{"arn:aws:lambda:us-east-1:000000000000:layer:deps:3", kHexLayer1, 777},
               {"arn:aws:lambda:us-east-1:000000000000:layer:tools:1", kHexLayer2, 888}};
  fn.dead_letter_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
  return fn;
}

void expectSameConfig(const FunctionConfig& a, const FunctionConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.runtime, b.runtime);
  EXPECT_EQ(a.handler, b.handler);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.memory_mb, b.memory_mb);
  EXPECT_EQ(a.timeout_s, b.timeout_s);
  EXPECT_EQ(a.ephemeral_storage_mb, b.ephemeral_storage_mb);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.package_type, b.package_type);
  EXPECT_EQ(a.tracing_mode, b.tracing_mode);
  EXPECT_EQ(a.log_format, b.log_format);
  EXPECT_EQ(a.environment, b.environment);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.code_sha256, b.code_sha256);
  EXPECT_EQ(a.code_sha256_hex, b.code_sha256_hex);
  EXPECT_EQ(a.code_size, b.code_size);
  EXPECT_EQ(a.last_modified_ms, b.last_modified_ms);
  EXPECT_EQ(a.revision_id, b.revision_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.dead_letter_arn, b.dead_letter_arn);
  EXPECT_EQ(a.snap_start_apply_on, b.snap_start_apply_on);
}

void expectSameAlias(const Alias& a, const Alias& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.function_version, b.function_version);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.additional_weights, b.additional_weights);
  EXPECT_EQ(a.revision_id, b.revision_id);
}

void expectSameRecord(const FunctionRecord& a, const FunctionRecord& b) {
  expectSameConfig(a.latest, b.latest);
  ASSERT_EQ(a.versions.size(), b.versions.size());
  for (const auto& [n, v] : a.versions) {
    ASSERT_TRUE(b.versions.count(n)) << n;
    expectSameConfig(v, b.versions.at(n));
  }
  ASSERT_EQ(a.aliases.size(), b.aliases.size());
  for (const auto& [name, alias] : a.aliases) {
    ASSERT_TRUE(b.aliases.count(name)) << name;
    expectSameAlias(alias, b.aliases.at(name));
  }
  EXPECT_EQ(a.reserved_concurrency, b.reserved_concurrency);
  ASSERT_EQ(a.provisioned.size(), b.provisioned.size());
  for (const auto& [q, pc] : a.provisioned) {
    ASSERT_TRUE(b.provisioned.count(q)) << q;
    EXPECT_EQ(pc.qualifier, b.provisioned.at(q).qualifier);
    EXPECT_EQ(pc.requested, b.provisioned.at(q).requested);
    EXPECT_EQ(pc.last_modified_ms, b.provisioned.at(q).last_modified_ms);
  }
  ASSERT_EQ(a.event_invoke.size(), b.event_invoke.size());
  for (const auto& [q, ec] : a.event_invoke) {
    ASSERT_TRUE(b.event_invoke.count(q)) << q;
    const EventInvokeConfig& other = b.event_invoke.at(q);
    EXPECT_EQ(ec.qualifier, other.qualifier);
    EXPECT_EQ(ec.max_retry_attempts, other.max_retry_attempts);
    EXPECT_EQ(ec.max_event_age_s, other.max_event_age_s);
    EXPECT_EQ(ec.on_success, other.on_success);
    EXPECT_EQ(ec.on_failure, other.on_failure);
    EXPECT_EQ(ec.last_modified_ms, other.last_modified_ms);
  }
  EXPECT_EQ(a.last_version, b.last_version);
}

std::unique_ptr<Registry> openRegistry(const fs::path& path) {
  auto reg = Registry::open(path);
  EXPECT_TRUE(reg) << reg.error().message();
  return reg ? std::move(*reg) : nullptr;
}

// Runs SQL on the db file through a separate raw connection; returns the first column of every
// row joined by ",".
std::string rawQuery(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);
  std::string out;
  const char* tail = sql.c_str();
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, tail, -1, &stmt, &tail) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
      break;
    }
    if (stmt == nullptr) break;  // trailing whitespace
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (!out.empty()) out += ",";
      out += text ? reinterpret_cast<const char*>(text) : "NULL";
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

// Inserts a row into `table` naming the given columns; every other NOT NULL column without a
// default gets 1 (INTEGER) or '' (anything else), so the test does not depend on the layer
// store's exact schema (migration 3 belongs to the layer store).
void insertFilled(const fs::path& db, const std::string& table,
                  const std::map<std::string, std::string>& given) {
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
  sqlite3_stmt* info = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(conn, ("PRAGMA table_info(" + table + ")").c_str(), -1, &info,
                               nullptr),
            SQLITE_OK);
  std::string columns, values;
  while (sqlite3_step(info) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(info, 1));
    const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(info, 2));
    const bool not_null = sqlite3_column_int(info, 3) != 0;
    const bool has_default = sqlite3_column_type(info, 4) != SQLITE_NULL;
    std::string value;
    if (auto it = given.find(name); it != given.end()) {
      value = it->second;
    } else if (not_null && !has_default) {
      value = type == "INTEGER" ? "1" : "''";
    } else {
      continue;
    }
    columns += (columns.empty() ? "" : ", ") + name;
    values += (values.empty() ? "" : ", ") + value;
  }
  sqlite3_finalize(info);
  sqlite3_close(conn);
  rawQuery(db, "INSERT INTO " + table + " (" + columns + ") VALUES (" + values + ")");
}

void insertLayerVersion(const fs::path& db, const std::string& name, const std::string& hex) {
  insertFilled(db, "layer_names", {{"name", "'" + name + "'"}});
  insertFilled(db, "layer_versions",
               {{"name", "'" + name + "'"},
                {"version", "1"},
                {"code_sha256_hex", "'" + hex + "'"}});
}

// Changes $LATEST the way UpdateFunctionConfiguration does: new field value, new revision.
void touchLatest(Registry& reg, const std::string& name, const std::string& revision,
                 int memory_mb) {
  auto fn = reg.getFunction(name);
  ASSERT_TRUE(fn) << fn.error().message();
  fn->revision_id = revision;
  fn->memory_mb = memory_mb;
  ASSERT_TRUE(reg.updateFunction(*fn));
}

FunctionConfig publish(Registry& reg, const std::string& name, bool* created = nullptr,
                       const std::string& description = "", int64_t now_ms = 5000) {
  auto v = reg.publishVersion(name, description, now_ms, created);
  EXPECT_TRUE(v) << v.error().message();
  return v ? *v : FunctionConfig{};
}

Alias makeAlias(const std::string& name, const std::string& version,
                std::map<std::string, double> weights = {}) {
  Alias a;
  a.name = name;
  a.function_version = version;
  a.description = "alias " + name;
  a.additional_weights = std::move(weights);
  a.revision_id = "alias-rev-" + name;
  return a;
}

TEST(RegistryControlTest, LayersAndDeadLetterRoundTrip) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "registry.db");
  ASSERT_TRUE(reg);
  const FunctionConfig fn = sampleFunction("layered");
  ASSERT_TRUE(reg->createFunction(fn));
  expectSameConfig(*reg->getFunction("layered"), fn);
  auto list = reg->listFunctions();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  expectSameConfig(list->front(), fn);

  // Update replaces layers (order kept) and the dead-letter target; tags stay.
  FunctionConfig changed = fn;
  changed.layers = {fn.layers[1], fn.layers[0], {"arn:x:layer:third:9", kHexB, 1}};
  changed.dead_letter_arn = "arn:aws:sns:us-east-1:000000000000:topic";
  changed.tags = {{"ignored", "by update"}};
  ASSERT_TRUE(reg->updateFunction(changed));
  FunctionConfig expected = changed;
  expected.tags = fn.tags;
  expectSameConfig(*reg->getFunction("layered"), expected);

  changed.layers.clear();
  changed.dead_letter_arn.clear();
  ASSERT_TRUE(reg->updateFunction(changed));
  auto got = reg->getFunction("layered");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->layers.empty());
  EXPECT_EQ(got->dead_letter_arn, "");
  EXPECT_EQ(rawQuery(tmp.path() / "registry.db", "SELECT layers FROM functions"), "[]");
}

TEST(RegistryControlTest, PublishCopiesLatestAndIsIdempotentUntilItChanges) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  const FunctionConfig fn = sampleFunction("pub");
  ASSERT_TRUE(reg->createFunction(fn));

  bool created = false;
  FunctionConfig v1 = publish(*reg, "pub", &created, "", 7000);
  EXPECT_TRUE(created);
  FunctionConfig expected = fn;
  expected.version = "1";
  expected.last_modified_ms = 7000;
  expected.revision_id = v1.revision_id;
  expectSameConfig(v1, expected);
  EXPECT_NE(v1.revision_id, fn.revision_id);
  EXPECT_EQ(v1.revision_id.size(), 36u);  // a uuid4

  // Nothing changed: the same version comes back, nothing is inserted.
  created = true;
  FunctionConfig again = publish(*reg, "pub", &created, "other description", 8000);
  EXPECT_FALSE(created);
  expectSameConfig(again, v1);
  // Tags changes do not count as a change of $LATEST (they are function-level).
  ASSERT_TRUE(reg->tagFunction("pub", {{"new", "tag"}}));
  FunctionConfig with_tag = publish(*reg, "pub", &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(with_tag.version, "1");
  EXPECT_EQ(with_tag.tags.at("new"), "tag");

  // A changed $LATEST publishes the next number, with the given description.
  touchLatest(*reg, "pub", "rev-2", 2048);
  FunctionConfig v2 = publish(*reg, "pub", &created, "second", 9000);
  EXPECT_TRUE(created);
  EXPECT_EQ(v2.version, "2");
  EXPECT_EQ(v2.description, "second");
  EXPECT_EQ(v2.memory_mb, 2048);
  EXPECT_EQ(v2.last_modified_ms, 9000);
  EXPECT_NE(v2.revision_id, v1.revision_id);
  EXPECT_EQ(v2.tags.at("new"), "tag");

  // $LATEST itself is untouched by publishing.
  auto latest = reg->getFunction("pub");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, "$LATEST");
  EXPECT_EQ(latest->revision_id, "rev-2");
  EXPECT_EQ(latest->description, fn.description);

  // Versions are immutable: later updates of $LATEST do not change them.
  touchLatest(*reg, "pub", "rev-3", 4096);
  auto rec = reg->getRecord("pub");
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(rec->last_version, 2);
  ASSERT_EQ(rec->versions.size(), 2u);
  expectSameConfig(rec->versions.at(1), with_tag);
  expectSameConfig(rec->versions.at(2), v2);
  EXPECT_EQ(rec->latest.memory_mb, 4096);

  auto missing = reg->publishVersion("absent", "", 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_EQ(missing.error().context, "Function not found: absent");
}

TEST(RegistryControlTest, CreateAndUpdateCanPublishInTheSameTransaction) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "registry.db");
  ASSERT_TRUE(reg);
  FunctionConfig v1;
  ASSERT_TRUE(reg->createFunction(sampleFunction("f"), &v1));
  EXPECT_EQ(v1.version, "1");
  FunctionConfig next = sampleFunction("f");
  next.revision_id = "rev-f-2";
  next.memory_mb = 2048;
  FunctionConfig v2;
  ASSERT_TRUE(reg->updateFunction(next, &v2));
  EXPECT_EQ(v2.version, "2");
  EXPECT_EQ(v2.memory_mb, 2048);
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_version, 2);
  EXPECT_EQ(rec->versions.at(1).memory_mb, 1024);
  // A failed create publishes nothing (the whole transaction rolls back).
  FunctionConfig none;
  EXPECT_EQ(reg->createFunction(sampleFunction("f"), &none).error().code, ErrorCode::Conflict);
  EXPECT_TRUE(none.version.empty() || none.version == "$LATEST");
  // An update of a missing function publishes nothing either.
  EXPECT_EQ(reg->updateFunction(sampleFunction("absent"), &none).error().code,
            ErrorCode::NotFound);
}

TEST(RegistryControlTest, VersionNumbersAreNeverReused) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  EXPECT_EQ(publish(*reg, "f").version, "1");
  touchLatest(*reg, "f", "r2", 256);
  EXPECT_EQ(publish(*reg, "f").version, "2");
  ASSERT_TRUE(reg->deleteVersion("f", 2));
  // $LATEST is unchanged since version 2, but 2 is gone: publishing makes 3, never 2 again.
  bool created = false;
  EXPECT_EQ(publish(*reg, "f", &created).version, "3");
  EXPECT_TRUE(created);
  ASSERT_TRUE(reg->deleteVersion("f", 3));
  ASSERT_TRUE(reg->deleteVersion("f", 1));
  reg.reset();
  reg = openRegistry(db);  // the counter is durable too
  ASSERT_TRUE(reg);
  touchLatest(*reg, "f", "r4", 512);
  EXPECT_EQ(publish(*reg, "f").version, "4");
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_version, 4);
  ASSERT_EQ(rec->versions.size(), 1u);
  EXPECT_EQ(rec->versions.begin()->first, 4);

  auto gone = reg->deleteVersion("f", 2);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
  EXPECT_EQ(gone.error().context, "Function not found: f:2");
  EXPECT_EQ(reg->deleteVersion("f", 0).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteVersion("f", -1).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteVersion("absent", 1).error().context, "Function not found: absent");
}

TEST(RegistryControlTest, DeleteVersionRefusedWhileAnAliasRoutesToIt) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  touchLatest(*reg, "f", "r2", 256);
  publish(*reg, "f");
  touchLatest(*reg, "f", "r3", 512);
  publish(*reg, "f");
  ASSERT_TRUE(reg->createAlias("f", makeAlias("live", "1")));
  ASSERT_TRUE(reg->createAlias("f", makeAlias("canary", "3", {{"2", 0.25}})));

  auto st = reg->deleteVersion("f", 1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::Conflict);
  EXPECT_NE(st.error().context.find("live"), std::string::npos) << st.error().context;
  st = reg->deleteVersion("f", 2);  // only a routing weight points at 2
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::Conflict);
  EXPECT_NE(st.error().context.find("canary"), std::string::npos) << st.error().context;
  EXPECT_EQ(reg->deleteVersion("f", 3).error().code, ErrorCode::Conflict);
  EXPECT_EQ(reg->getRecord("f")->versions.size(), 3u);  // refused deletes changed nothing

  // Repoint the aliases: now the versions can go.
  ASSERT_TRUE(reg->updateAlias("f", makeAlias("live", "$LATEST")));
  ASSERT_TRUE(reg->updateAlias("f", makeAlias("canary", "3")));
  ASSERT_TRUE(reg->deleteVersion("f", 1));
  ASSERT_TRUE(reg->deleteVersion("f", 2));
  EXPECT_EQ(reg->deleteVersion("f", 3).error().code, ErrorCode::Conflict);
  ASSERT_TRUE(reg->deleteAlias("f", "canary"));
  ASSERT_TRUE(reg->deleteVersion("f", 3));
  EXPECT_TRUE(reg->getRecord("f")->versions.empty());
}

TEST(RegistryControlTest, DeleteVersionRemovesItsSettingsOnly) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  touchLatest(*reg, "f", "r2", 256);
  publish(*reg, "f");
  for (const char* q : {"1", "2"}) {
    ASSERT_TRUE(reg->putProvisioned("f", {q, 3, 10}));
    EventInvokeConfig ec;
    ec.qualifier = q;
    ec.max_retry_attempts = 1;
    ASSERT_TRUE(reg->putEventInvokeConfig("f", ec));
  }
  ASSERT_TRUE(reg->deleteVersion("f", 1));
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->provisioned.size(), 1u);
  EXPECT_TRUE(rec->provisioned.count("2"));
  EXPECT_EQ(rec->event_invoke.size(), 1u);
  EXPECT_TRUE(rec->event_invoke.count("2"));
  EXPECT_EQ(rawQuery(db, "SELECT COUNT(*) FROM provisioned_concurrency WHERE qualifier='1'"), "0");
}

TEST(RegistryControlTest, AliasesCreateUpdateDelete) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  touchLatest(*reg, "f", "r2", 256);
  publish(*reg, "f");

  const Alias live = makeAlias("live", "1", {{"2", 0.2}});
  ASSERT_TRUE(reg->createAlias("f", live));
  ASSERT_TRUE(reg->createAlias("f", makeAlias("dev", "$LATEST")));
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->aliases.size(), 2u);
  expectSameAlias(rec->aliases.at("live"), live);
  EXPECT_EQ(rec->aliases.at("live").additional_weights.at("2"), 0.2);  // exact double
  EXPECT_TRUE(rec->aliases.at("dev").additional_weights.empty());

  auto dup = reg->createAlias("f", makeAlias("live", "2"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::Conflict);
  EXPECT_EQ(dup.error().context, "Alias already exists: live");
  expectSameAlias(reg->getRecord("f")->aliases.at("live"), live);  // unchanged

  // Targets must exist: the alias version and every routing version.
  auto bad = reg->createAlias("f", makeAlias("bad", "7"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::NotFound);
  EXPECT_EQ(bad.error().context, "Function not found: f:7");
  EXPECT_EQ(reg->createAlias("f", makeAlias("bad", "1", {{"9", 0.5}})).error().code,
            ErrorCode::NotFound);
  EXPECT_EQ(reg->updateAlias("f", makeAlias("live", "9")).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->createAlias("absent", live).error().context, "Function not found: absent");
  EXPECT_EQ(reg->getRecord("f")->aliases.size(), 2u);

  Alias moved = makeAlias("live", "2", {{"1", 0.05}});
  moved.description = "moved";
  moved.revision_id = "alias-rev-2";
  ASSERT_TRUE(reg->updateAlias("f", moved));
  expectSameAlias(reg->getRecord("f")->aliases.at("live"), moved);

  auto missing = reg->updateAlias("f", makeAlias("nope", "1"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_EQ(missing.error().context, "Alias not found: nope");
  EXPECT_EQ(reg->updateAlias("absent", moved).error().context, "Function not found: absent");

  ASSERT_TRUE(reg->deleteAlias("f", "dev"));
  EXPECT_EQ(reg->deleteAlias("f", "dev").error().context, "Alias not found: dev");
  EXPECT_EQ(reg->deleteAlias("absent", "dev").error().context, "Function not found: absent");
  rec = reg->getRecord("f");
  ASSERT_EQ(rec->aliases.size(), 1u);
  EXPECT_TRUE(rec->aliases.count("live"));
}

TEST(RegistryControlTest, DeleteAliasRemovesItsSettings) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  ASSERT_TRUE(reg->createAlias("f", makeAlias("live", "1")));
  ASSERT_TRUE(reg->createAlias("f", makeAlias("other", "1")));
  for (const char* q : {"live", "other"}) {
    ASSERT_TRUE(reg->putProvisioned("f", {q, 2, 1}));
    EventInvokeConfig ec;
    ec.qualifier = q;
    ASSERT_TRUE(reg->putEventInvokeConfig("f", ec));
  }
  ASSERT_TRUE(reg->deleteAlias("f", "live"));
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->provisioned.size(), 1u);
  EXPECT_TRUE(rec->provisioned.count("other"));
  EXPECT_EQ(rec->event_invoke.size(), 1u);
  EXPECT_TRUE(rec->event_invoke.count("other"));
  // A re-created alias of the same name starts without settings.
  ASSERT_TRUE(reg->createAlias("f", makeAlias("live", "$LATEST")));
  EXPECT_FALSE(reg->getRecord("f")->provisioned.count("live"));
}

TEST(RegistryControlTest, ReservedConcurrency) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  EXPECT_EQ(reg->getRecord("f")->reserved_concurrency, std::nullopt);
  ASSERT_TRUE(reg->setReservedConcurrency("f", 10));
  EXPECT_EQ(reg->getRecord("f")->reserved_concurrency, 10);
  ASSERT_TRUE(reg->setReservedConcurrency("f", 0));  // 0 is a real value (throttle all)
  EXPECT_EQ(reg->getRecord("f")->reserved_concurrency, 0);
  ASSERT_TRUE(reg->setReservedConcurrency("f", std::nullopt));
  EXPECT_EQ(reg->getRecord("f")->reserved_concurrency, std::nullopt);
  auto st = reg->setReservedConcurrency("absent", 1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::NotFound);
  // updateFunction does not reset it.
  ASSERT_TRUE(reg->setReservedConcurrency("f", 5));
  touchLatest(*reg, "f", "r2", 256);
  EXPECT_EQ(reg->getRecord("f")->reserved_concurrency, 5);
}

TEST(RegistryControlTest, ProvisionedConfigs) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  ASSERT_TRUE(reg->createAlias("f", makeAlias("live", "1")));
  ASSERT_TRUE(reg->putProvisioned("f", {"1", 5, 100}));
  ASSERT_TRUE(reg->putProvisioned("f", {"live", 2, 200}));
  ASSERT_TRUE(reg->putProvisioned("f", {"1", 7, 300}));  // replaces
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->provisioned.size(), 2u);
  EXPECT_EQ(rec->provisioned.at("1").qualifier, "1");
  EXPECT_EQ(rec->provisioned.at("1").requested, 7);
  EXPECT_EQ(rec->provisioned.at("1").last_modified_ms, 300);
  EXPECT_EQ(rec->provisioned.at("live").requested, 2);

  EXPECT_EQ(reg->putProvisioned("f", {"9", 1, 1}).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->putProvisioned("f", {"nope", 1, 1}).error().context, "Alias not found: nope");
  EXPECT_EQ(reg->putProvisioned("absent", {"1", 1, 1}).error().code, ErrorCode::NotFound);

  ASSERT_TRUE(reg->deleteProvisioned("f", "1"));
  auto again = reg->deleteProvisioned("f", "1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteProvisioned("absent", "1").error().context, "Function not found: absent");
  rec = reg->getRecord("f");
  ASSERT_EQ(rec->provisioned.size(), 1u);
  EXPECT_TRUE(rec->provisioned.count("live"));
}

TEST(RegistryControlTest, EventInvokeConfigs) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  EventInvokeConfig unset;
  unset.qualifier = "$LATEST";
  unset.last_modified_ms = 11;
  EventInvokeConfig full;
  full.qualifier = "1";
  full.max_retry_attempts = 0;  // 0 is a value, not "unset"
  full.max_event_age_s = 60;
  full.on_success = "arn:aws:sqs:us-east-1:000000000000:ok";
  full.on_failure = "arn:aws:lambda:us-east-1:000000000000:function:fail";
  full.last_modified_ms = 22;
  ASSERT_TRUE(reg->putEventInvokeConfig("f", unset));
  ASSERT_TRUE(reg->putEventInvokeConfig("f", full));
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->event_invoke.size(), 2u);
  const EventInvokeConfig& got_unset = rec->event_invoke.at("$LATEST");
  EXPECT_EQ(got_unset.qualifier, "$LATEST");
  EXPECT_EQ(got_unset.max_retry_attempts, std::nullopt);
  EXPECT_EQ(got_unset.max_event_age_s, std::nullopt);
  EXPECT_EQ(got_unset.on_success, "");
  EXPECT_EQ(got_unset.last_modified_ms, 11);
  const EventInvokeConfig& got_full = rec->event_invoke.at("1");
  EXPECT_EQ(got_full.max_retry_attempts, 0);
  EXPECT_EQ(got_full.max_event_age_s, 60);
  EXPECT_EQ(got_full.on_success, full.on_success);
  EXPECT_EQ(got_full.on_failure, full.on_failure);
  EXPECT_EQ(got_full.last_modified_ms, 22);

  // Put replaces the whole config (unset fields go back to unset).
  EventInvokeConfig replaced;
  replaced.qualifier = "1";
  replaced.max_event_age_s = 3600;
  replaced.last_modified_ms = 33;
  ASSERT_TRUE(reg->putEventInvokeConfig("f", replaced));
  const EventInvokeConfig got = reg->getRecord("f")->event_invoke.at("1");
  EXPECT_EQ(got.max_retry_attempts, std::nullopt);
  EXPECT_EQ(got.max_event_age_s, 3600);
  EXPECT_EQ(got.on_success, "");
  EXPECT_EQ(got.last_modified_ms, 33);

  EventInvokeConfig bad = full;
  bad.qualifier = "2";
  EXPECT_EQ(reg->putEventInvokeConfig("f", bad).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->putEventInvokeConfig("absent", full).error().code, ErrorCode::NotFound);
  ASSERT_TRUE(reg->deleteEventInvokeConfig("f", "$LATEST"));
  EXPECT_EQ(reg->deleteEventInvokeConfig("f", "$LATEST").error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteEventInvokeConfig("absent", "1").error().context,
            "Function not found: absent");
  EXPECT_EQ(reg->getRecord("f")->event_invoke.size(), 1u);
}

// Builds a function with two versions, aliases and every setting.
void populate(Registry& reg, const std::string& name) {
  FunctionConfig fn = sampleFunction(name);
  ASSERT_TRUE(reg.createFunction(fn));
  publish(reg, name, nullptr, "v1 of " + name);
  touchLatest(reg, name, "r2-" + name, 2048);
  publish(reg, name);
  ASSERT_TRUE(reg.createAlias(name, makeAlias("live", "2", {{"1", 0.1}})));
  ASSERT_TRUE(reg.setReservedConcurrency(name, 4));
  ASSERT_TRUE(reg.putProvisioned(name, {"live", 2, 77}));
  EventInvokeConfig ec;
  ec.qualifier = "live";
  ec.max_retry_attempts = 1;
  ec.on_failure = "arn:aws:sqs:us-east-1:000000000000:" + name;
  ASSERT_TRUE(reg.putEventInvokeConfig(name, ec));
}

TEST(RegistryControlTest, DeleteFunctionCascades) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  populate(*reg, "gone");
  populate(*reg, "stays");
  const auto before = reg->getRecord("stays");
  ASSERT_TRUE(before);
  ASSERT_TRUE(reg->deleteFunction("gone"));
  EXPECT_EQ(reg->getRecord("gone").error().code, ErrorCode::NotFound);
  for (const char* table : {"function_versions", "aliases", "provisioned_concurrency",
                            "event_invoke_configs"}) {
    EXPECT_EQ(rawQuery(db, std::string("SELECT COUNT(*) FROM ") + table +
                               " WHERE function_id NOT IN (SELECT id FROM functions)"),
              "0")
        << table;
    EXPECT_NE(rawQuery(db, std::string("SELECT COUNT(*) FROM ") + table), "0") << table;
  }
  auto after = reg->getRecord("stays");
  ASSERT_TRUE(after);
  expectSameRecord(*after, *before);

  // Re-creating the name starts with no versions, aliases or settings; numbering restarts.
  ASSERT_TRUE(reg->createFunction(sampleFunction("gone")));
  auto fresh = reg->getRecord("gone");
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->versions.empty());
  EXPECT_TRUE(fresh->aliases.empty());
  EXPECT_TRUE(fresh->provisioned.empty());
  EXPECT_TRUE(fresh->event_invoke.empty());
  EXPECT_EQ(fresh->reserved_concurrency, std::nullopt);
  EXPECT_EQ(fresh->last_version, 0);
  EXPECT_EQ(publish(*reg, "gone").version, "1");
}

TEST(RegistryControlTest, EverythingSurvivesReopen) {
  TempDir tmp;
  const fs::path db = tmp.path() / "data" / "registry.db";
  std::vector<FunctionRecord> before;
  {
    auto reg = openRegistry(db);
    ASSERT_TRUE(reg);
    populate(*reg, "a");
    populate(*reg, "b");
    auto all = reg->loadAll();
    ASSERT_TRUE(all);
    before = std::move(*all);
  }
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  auto after = reg->loadAll();
  ASSERT_TRUE(after) << after.error().message();
  ASSERT_EQ(after->size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) expectSameRecord((*after)[i], before[i]);
  // And publishing continues from the stored state.
  bool created = true;
  EXPECT_EQ(publish(*reg, "a", &created).version, "2");
  EXPECT_FALSE(created);
}

TEST(RegistryControlTest, LoadAllShape) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  auto empty = reg->loadAll();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());

  populate(*reg, "charlie");
  ASSERT_TRUE(reg->createFunction(sampleFunction("alpha")));  // bare: no versions or settings
  populate(*reg, "bravo");
  ASSERT_TRUE(reg->deleteAlias("bravo", "live"));
  auto all = reg->loadAll();
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].latest.name, "alpha");
  EXPECT_EQ((*all)[1].latest.name, "bravo");
  EXPECT_EQ((*all)[2].latest.name, "charlie");

  const FunctionRecord& alpha = (*all)[0];
  expectSameConfig(alpha.latest, sampleFunction("alpha"));
  EXPECT_TRUE(alpha.versions.empty());
  EXPECT_TRUE(alpha.aliases.empty());
  EXPECT_EQ(alpha.last_version, 0);
  EXPECT_EQ(alpha.reserved_concurrency, std::nullopt);

  const FunctionRecord& bravo = (*all)[1];
  EXPECT_TRUE(bravo.aliases.empty());
  EXPECT_TRUE(bravo.provisioned.empty());  // went with the alias
  EXPECT_TRUE(bravo.event_invoke.empty());

  const FunctionRecord& charlie = (*all)[2];
  EXPECT_EQ(charlie.last_version, 2);
  ASSERT_EQ(charlie.versions.size(), 2u);
  EXPECT_EQ(charlie.versions.at(1).version, "1");
  EXPECT_EQ(charlie.versions.at(1).description, "v1 of charlie");
  EXPECT_EQ(charlie.versions.at(1).memory_mb, 1024);
  EXPECT_EQ(charlie.versions.at(2).memory_mb, 2048);
  EXPECT_EQ(charlie.versions.at(2).description, sampleFunction("charlie").description);
  EXPECT_EQ(charlie.versions.at(2).layers, sampleFunction("charlie").layers);
  EXPECT_EQ(charlie.versions.at(2).dead_letter_arn, sampleFunction("charlie").dead_letter_arn);
  EXPECT_EQ(charlie.versions.at(2).tags, sampleFunction("charlie").tags);
  EXPECT_EQ(charlie.latest.version, "$LATEST");
  ASSERT_EQ(charlie.aliases.size(), 1u);
  EXPECT_EQ(charlie.aliases.at("live").additional_weights,
            (std::map<std::string, double>{{"1", 0.1}}));
  EXPECT_EQ(charlie.reserved_concurrency, 4);
  EXPECT_EQ(charlie.provisioned.at("live").requested, 2);
  EXPECT_EQ(charlie.event_invoke.at("live").on_failure,
            "arn:aws:sqs:us-east-1:000000000000:charlie");

  // loadAll and getRecord agree.
  for (const FunctionRecord& rec : *all) {
    auto one = reg->getRecord(rec.latest.name);
    ASSERT_TRUE(one);
    expectSameRecord(*one, rec);
  }
  EXPECT_EQ(reg->getRecord("absent").error().context, "Function not found: absent");
}

TEST(RegistryControlTest, CodeReferencesCountEveryUser) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  FunctionConfig fn = sampleFunction("f");
  fn.layers = {{"arn:l:1", kHexLayer1, 1}};
  ASSERT_TRUE(reg->createFunction(fn));
  EXPECT_EQ(*reg->codeReferences(kHexA), 1);
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 1);  // the layer ref pinned in $LATEST
  EXPECT_EQ(*reg->codeReferences(kHexLayer2), 0);
  EXPECT_EQ(*reg->codeReferences(""), 0);

  publish(*reg, "f");
  EXPECT_EQ(*reg->codeReferences(kHexA), 2);       // $LATEST + version 1
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 2);  // and its layer ref

  // $LATEST moves to other code and layers: version 1 still holds the old ones.
  fn.code_sha256_hex = kHexB;
  fn.layers = {{"arn:l:2", kHexLayer2, 2}};
  fn.revision_id = "r2";
  ASSERT_TRUE(reg->updateFunction(fn));
  EXPECT_EQ(*reg->codeReferences(kHexA), 1);
  EXPECT_EQ(*reg->codeReferences(kHexB), 1);
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 1);
  EXPECT_EQ(*reg->codeReferences(kHexLayer2), 1);

  // Layer versions (written by the layer store) count too.
  insertLayerVersion(db, "deps", kHexLayer1);
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 2);

  ASSERT_TRUE(reg->deleteVersion("f", 1));
  EXPECT_EQ(*reg->codeReferences(kHexA), 0);
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 1);  // only the layer version now
  ASSERT_TRUE(reg->deleteFunction("f"));
  EXPECT_EQ(*reg->codeReferences(kHexB), 0);
  EXPECT_EQ(*reg->codeReferences(kHexLayer2), 0);
  EXPECT_EQ(*reg->codeReferences(kHexLayer1), 1);
}

// The schema exactly as migration 1 shipped it.
constexpr const char* kSchemaV1 = R"sql(
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
    environment TEXT NOT NULL DEFAULT '{}',
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
  INSERT INTO functions (name, runtime, handler, role, description, memory_mb, timeout_s,
    ephemeral_storage_mb, architecture, package_type, tracing_mode, log_format, environment,
    code_sha256, code_sha256_hex, code_size, last_modified_ms, revision_id, version)
  VALUES ('old', 'python3.11', 'app.handler', 'role', 'from v1', 256, 10, 512, 'x86_64', 'Zip',
    'PassThrough', 'Text', '{"K":"V"}', 'b64', 'cafe', 99, 1000, 'rev-old', '$LATEST');
  INSERT INTO function_tags (function_id, key, value) VALUES (1, 'owner', 'v1');
  PRAGMA user_version = 1;
)sql";

TEST(RegistryControlTest, MigratesAVersion1DatabaseWithFunctions) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  rawQuery(db, kSchemaV1);
  ASSERT_EQ(rawQuery(db, "PRAGMA user_version"), "1");
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  EXPECT_EQ(*reg->schemaVersion(), Registry::latestSchemaVersion());

  auto old = reg->getFunction("old");
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_EQ(old->description, "from v1");
  EXPECT_EQ(old->memory_mb, 256);
  EXPECT_EQ(old->environment, (std::map<std::string, std::string>{{"K", "V"}}));
  EXPECT_EQ(old->tags, (std::map<std::string, std::string>{{"owner", "v1"}}));
  EXPECT_TRUE(old->layers.empty());
  EXPECT_EQ(old->dead_letter_arn, "");
  EXPECT_EQ(old->snap_start_apply_on, "None");  // migration 5's default
  auto rec = reg->getRecord("old");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_version, 0);
  EXPECT_EQ(rec->reserved_concurrency, std::nullopt);
  EXPECT_TRUE(rec->versions.empty());

  // The migrated row takes every new operation.
  bool created = false;
  FunctionConfig v1 = publish(*reg, "old", &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(v1.version, "1");
  EXPECT_EQ(v1.code_sha256_hex, "cafe");
  ASSERT_TRUE(reg->createAlias("old", makeAlias("live", "1")));
  ASSERT_TRUE(reg->setReservedConcurrency("old", 3));
  FunctionConfig updated = *old;
  updated.layers = {{"arn:l:1", kHexLayer1, 1}};
  updated.revision_id = "rev-new";
  ASSERT_TRUE(reg->updateFunction(updated));
  EXPECT_EQ(reg->getFunction("old")->layers, updated.layers);
  EXPECT_EQ(*reg->codeReferences("cafe"), 2);
  auto all = reg->loadAll();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().versions.size(), 1u);
  EXPECT_EQ(all->front().aliases.size(), 1u);
  EXPECT_EQ(all->front().reserved_concurrency, 3);
}

TEST(RegistryControlTest, SnapStartIsStoredOnFunctionsAndVersionsAndSurvivesReopen) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  {
    auto reg = openRegistry(db);
    ASSERT_TRUE(reg);
    FunctionConfig fn = sampleFunction("f");
    fn.snap_start_apply_on = "PublishedVersions";
    ASSERT_TRUE(reg->createFunction(fn));
    EXPECT_EQ(reg->getFunction("f")->snap_start_apply_on, "PublishedVersions");
    FunctionConfig v1 = publish(*reg, "f");
    EXPECT_EQ(v1.snap_start_apply_on, "PublishedVersions");
    EXPECT_TRUE(snapStartOn(v1));
    // Turned off on $LATEST: version 1 keeps what it was published with; version 2 is off.
    fn.snap_start_apply_on = "None";
    fn.revision_id = "rev-f-2";
    ASSERT_TRUE(reg->updateFunction(fn));
    FunctionConfig v2 = publish(*reg, "f");
    EXPECT_EQ(v2.version, "2");
    EXPECT_EQ(v2.snap_start_apply_on, "None");
    EXPECT_FALSE(snapStartOn(v2));
    EXPECT_EQ(rawQuery(db, "SELECT snap_start FROM function_versions ORDER BY version"),
              "PublishedVersions,None");
    EXPECT_EQ(rawQuery(db, "SELECT snap_start FROM functions"), "None");
  }
  auto reg = openRegistry(db);  // a restart
  ASSERT_TRUE(reg);
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(rec->latest.snap_start_apply_on, "None");
  EXPECT_FALSE(snapStartOn(rec->latest));
  ASSERT_EQ(rec->versions.size(), 2u);
  EXPECT_EQ(rec->versions.at(1).snap_start_apply_on, "PublishedVersions");
  EXPECT_TRUE(snapStartOn(rec->versions.at(1)));
  EXPECT_EQ(rec->versions.at(2).snap_start_apply_on, "None");
  auto all = reg->loadAll();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().versions.at(1).snap_start_apply_on, "PublishedVersions");
  // An unchanged $LATEST republished hands back version 2 with its own value.
  FunctionConfig again = publish(*reg, "f");
  EXPECT_EQ(again.version, "2");
  EXPECT_EQ(again.snap_start_apply_on, "None");
  // $LATEST with PublishedVersions is never "On" itself.
  FunctionConfig latest = rec->latest;
  latest.snap_start_apply_on = "PublishedVersions";
  EXPECT_FALSE(snapStartOn(latest));
}

TEST(RegistryControlTest, CorruptVersionConfigIsAnError) {
  TempDir tmp;
  const fs::path db = tmp.path() / "registry.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  publish(*reg, "f");
  rawQuery(db, "UPDATE function_versions SET config='{\"memory_mb\": \"lots\"}'");
  auto rec = reg->getRecord("f");
  ASSERT_FALSE(rec);
  EXPECT_EQ(rec.error().code, ErrorCode::Internal);
  EXPECT_FALSE(reg->loadAll());
  rawQuery(db, "UPDATE function_versions SET config='not json'");
  EXPECT_FALSE(reg->getRecord("f"));
  // A config missing members (an older row) reads with the defaults.
  rawQuery(db, "UPDATE function_versions SET config='{\"name\": \"f\", \"version\": \"1\"}'");
  rec = reg->getRecord("f");
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(rec->versions.at(1).memory_mb, FunctionConfig{}.memory_mb);
  EXPECT_TRUE(rec->versions.at(1).layers.empty());
}

TEST(RegistryControlTest, ConcurrentPublishesGetDistinctNumbers) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "registry.db");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  constexpr int kThreads = 4, kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto fn = reg->getFunction("f");
        if (!fn) {
          ++failures;
          continue;
        }
        fn->revision_id = "r-" + std::to_string(t) + "-" + std::to_string(i);
        if (!reg->updateFunction(*fn)) ++failures;
        bool created = false;
        auto v = reg->publishVersion("f", "", 1, &created);
        if (!v) {
          ++failures;
        } else if (created) {
          made[t].push_back(v->version);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> numbers;
  size_t total = 0;
  for (const auto& list : made) {
    total += list.size();
    numbers.insert(list.begin(), list.end());
  }
  EXPECT_EQ(numbers.size(), total);  // no number handed out twice
  auto rec = reg->getRecord("f");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->versions.size(), total);
  EXPECT_EQ(rec->last_version, static_cast<int>(total));
  EXPECT_GE(total, 1u);
}

}  // namespace
}  // namespace kindling::store
