#include "store/registry.h"

#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Every field set to a non-default value.
FunctionConfig sampleFunction(const std::string& name) {
  FunctionConfig fn;
  fn.name = name;
  fn.runtime = "provided.al2023";
  fn.handler = "bootstrap.handler";
  fn.role = "arn:aws:iam::000000000000:role/lambda-role";
  fn.description = "d\xc3\xa9j\xc3\xa0 \"quoted\" \\ {json}";
  fn.memory_mb = 1769;
  fn.timeout_s = 900;
  fn.ephemeral_storage_mb = 10240;
  fn.architecture = "arm64";
  fn.package_type = "Image";
  fn.tracing_mode = "Active";
  fn.log_format = "JSON";
  fn.environment = {
      {"A", "1"}, {"JSON", "{\"k\": [1, 2]}"}, {"EMPTY", ""}, {"UNI", "\xe2\x9c\x93"}};
  fn.tags = {{"team", "core"}, {"cost-center", "42"}, {"empty", ""}};
  fn.code_sha256 = "VN7og8o/LyJfm/IbHtWfm+lhoB5OWSwfJrHVkmc80VY=";
  fn.code_sha256_hex = "54dee883ca3f2f225f9bf21b1ed59f9be961a01e4e592c1f26b1d592673cd156";
  fn.code_size = 5797206;
  fn.last_modified_ms = 1712776000123;
  fn.revision_id = "2c1d8b7e-8f2a-4f3e-9a51-0d6c1e3b7a90";
  fn.version = "7";
  return fn;
}

void expectSameFunction(const FunctionConfig& a, const FunctionConfig& b) {
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
}

std::unique_ptr<Registry> openRegistry(const fs::path& path) {
  auto reg = Registry::open(path);
  EXPECT_TRUE(reg) << reg.error().message();
  return reg ? std::move(*reg) : nullptr;
}

// Runs one query on the db file with a separate raw connection, returning the first column.
std::string rawQuery(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (!out.empty()) out += ",";
      out += text ? reinterpret_cast<const char*>(text) : "NULL";
    }
  } else {
    ADD_FAILURE() << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST(RegistryTest, RoundTripsEveryField) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  const FunctionConfig fn = sampleFunction("fn-1_A");
  ASSERT_TRUE(reg->createFunction(fn));
  auto got = reg->getFunction("fn-1_A");
  ASSERT_TRUE(got) << got.error().message();
  expectSameFunction(*got, fn);

  // Defaults and empty maps round-trip too.
  FunctionConfig plain;
  plain.name = "plain";
  ASSERT_TRUE(reg->createFunction(plain));
  auto got_plain = reg->getFunction("plain");
  ASSERT_TRUE(got_plain);
  expectSameFunction(*got_plain, plain);
}

TEST(RegistryTest, CreateConflictsOnExistingName) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("dup")));
  FunctionConfig other = sampleFunction("dup");
  other.runtime = "python3.12";
  other.tags = {{"other", "tag"}};
  auto st = reg->createFunction(other);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::Conflict);
  EXPECT_EQ(st.error().context, "Function already exist: dup");
  // The failed create changed nothing (tags included: the insert is one transaction).
  auto got = reg->getFunction("dup");
  ASSERT_TRUE(got);
  expectSameFunction(*got, sampleFunction("dup"));
}

TEST(RegistryTest, MissingFunctionIsNotFoundEverywhere) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("present")));
  auto got = reg->getFunction("absent");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::NotFound);
  EXPECT_EQ(got.error().context, "Function not found: absent");
  EXPECT_EQ(reg->updateFunction(sampleFunction("absent")).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteFunction("absent").error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->tagFunction("absent", {{"a", "b"}}).error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->untagFunction("absent", {"a"}).error().code, ErrorCode::NotFound);
  // Names are exact (no prefix or case folding).
  EXPECT_EQ(reg->getFunction("Present").error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->getFunction("presen").error().code, ErrorCode::NotFound);
}

TEST(RegistryTest, UpdateReplacesFieldsButKeepsTags) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  ASSERT_TRUE(reg->createFunction(sampleFunction("bystander")));
  FunctionConfig changed;
  changed.name = "f";
  changed.runtime = "python3.12";
  changed.handler = "app.handler";
  changed.memory_mb = 256;
  changed.environment = {{"ONLY", "this"}};
  changed.tags = {{"ignored", "by update"}};
  changed.code_sha256_hex = std::string(64, 'c');
  changed.revision_id = "new-revision";
  changed.last_modified_ms = 99;
  ASSERT_TRUE(reg->updateFunction(changed));
  auto got = reg->getFunction("f");
  ASSERT_TRUE(got);
  FunctionConfig expected = changed;
  expected.tags = sampleFunction("f").tags;
  expectSameFunction(*got, expected);
  // Other rows untouched.
  expectSameFunction(*reg->getFunction("bystander"), sampleFunction("bystander"));
}

TEST(RegistryTest, DeleteRemovesFunctionAndTags) {
  TempDir tmp;
  const fs::path db = tmp.path() / "kindling.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("gone")));
  ASSERT_TRUE(reg->createFunction(sampleFunction("stays")));
  ASSERT_TRUE(reg->deleteFunction("gone"));
  EXPECT_EQ(reg->getFunction("gone").error().code, ErrorCode::NotFound);
  EXPECT_EQ(reg->deleteFunction("gone").error().code, ErrorCode::NotFound);
  EXPECT_EQ(rawQuery(db, "SELECT COUNT(*) FROM function_tags"), "3");  // only "stays"' tags
  // Re-creating the name starts clean.
  FunctionConfig fresh;
  fresh.name = "gone";
  ASSERT_TRUE(reg->createFunction(fresh));
  EXPECT_TRUE(reg->getFunction("gone")->tags.empty());
}

TEST(RegistryTest, ListIsSortedByNameWithTags) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  auto empty = reg->listFunctions();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  for (const char* name : {"charlie", "Bravo", "alpha", "alpha-2", "delta"}) {
    FunctionConfig fn = sampleFunction(name);
    fn.tags = {{"name", name}};
    ASSERT_TRUE(reg->createFunction(fn));
  }
  auto list = reg->listFunctions();
  ASSERT_TRUE(list) << list.error().message();
  std::vector<std::string> names;
  for (const auto& fn : *list) {
    names.push_back(fn.name);
    EXPECT_EQ(fn.tags, (std::map<std::string, std::string>{{"name", fn.name}}));
    EXPECT_EQ(fn.environment, sampleFunction("x").environment);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Bravo", "alpha", "alpha-2", "charlie", "delta"}));
}

TEST(RegistryTest, TagAndUntag) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  FunctionConfig fn = sampleFunction("t");
  fn.tags = {{"keep", "1"}, {"change", "old"}};
  ASSERT_TRUE(reg->createFunction(fn));
  ASSERT_TRUE(reg->tagFunction("t", {{"change", "new"}, {"add", "x"}}));
  EXPECT_EQ(reg->getFunction("t")->tags,
            (std::map<std::string, std::string>{{"keep", "1"}, {"change", "new"}, {"add", "x"}}));
  ASSERT_TRUE(reg->untagFunction("t", {"change", "not-there"}));
  EXPECT_EQ(reg->getFunction("t")->tags,
            (std::map<std::string, std::string>{{"keep", "1"}, {"add", "x"}}));
  ASSERT_TRUE(reg->tagFunction("t", {}));
  ASSERT_TRUE(reg->untagFunction("t", {"keep", "add"}));
  EXPECT_TRUE(reg->getFunction("t")->tags.empty());
  // Tagging does not touch the configuration.
  FunctionConfig expected = fn;
  expected.tags.clear();
  expectSameFunction(*reg->getFunction("t"), expected);
}

TEST(RegistryTest, CodeReferencesCountsFunctionsPerDigest) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  const std::string a(64, 'a'), b(64, 'b');
  for (int i = 0; i < 3; ++i) {
    FunctionConfig fn = sampleFunction("a" + std::to_string(i));
    fn.code_sha256_hex = a;
    ASSERT_TRUE(reg->createFunction(fn));
  }
  FunctionConfig fb = sampleFunction("b");
  fb.code_sha256_hex = b;
  ASSERT_TRUE(reg->createFunction(fb));
  EXPECT_EQ(*reg->codeReferences(a), 3);
  EXPECT_EQ(*reg->codeReferences(b), 1);
  EXPECT_EQ(*reg->codeReferences(std::string(64, 'c')), 0);
  ASSERT_TRUE(reg->deleteFunction("a0"));
  fb.code_sha256_hex = a;
  ASSERT_TRUE(reg->updateFunction(fb));
  EXPECT_EQ(*reg->codeReferences(a), 3);
  EXPECT_EQ(*reg->codeReferences(b), 0);
}

TEST(RegistryTest, ReopenKeepsData) {
  TempDir tmp;
  const fs::path db = tmp.path() / "data" / "kindling.db";  // parent created on open
  {
    auto reg = openRegistry(db);
    ASSERT_TRUE(reg);
    ASSERT_TRUE(reg->createFunction(sampleFunction("persist")));
    ASSERT_TRUE(reg->tagFunction("persist", {{"late", "tag"}}));
  }
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  auto got = reg->getFunction("persist");
  ASSERT_TRUE(got) << got.error().message();
  FunctionConfig expected = sampleFunction("persist");
  expected.tags["late"] = "tag";
  expectSameFunction(*got, expected);
}

TEST(RegistryTest, MigratesEmptyDbAndReopensIdempotently) {
  TempDir tmp;
  const fs::path db = tmp.path() / "kindling.db";
  // An existing zero-byte file is an empty database.
  { std::ofstream touch(db); }
  {
    auto reg = openRegistry(db);
    ASSERT_TRUE(reg);
    EXPECT_EQ(*reg->schemaVersion(), Registry::latestSchemaVersion());
    EXPECT_GE(Registry::latestSchemaVersion(), 1);
    ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  }
  EXPECT_EQ(rawQuery(db, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                         "'sqlite_%' ORDER BY name"),
            "aliases,async_events,event_invoke_configs,function_tags,function_versions,functions,"
            "layer_names,layer_versions,provisioned_concurrency,queue_messages");
  EXPECT_EQ(rawQuery(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(rawQuery(db, "PRAGMA user_version"), std::to_string(Registry::latestSchemaVersion()));
  for (int i = 0; i < 3; ++i) {
    auto reg = openRegistry(db);
    ASSERT_TRUE(reg);
    EXPECT_EQ(*reg->schemaVersion(), Registry::latestSchemaVersion());
    ASSERT_TRUE(reg->getFunction("f"));
  }
}

TEST(RegistryTest, RefusesADbFromANewerSchema) {
  TempDir tmp;
  const fs::path db = tmp.path() / "kindling.db";
  rawQuery(db, "PRAGMA user_version = 999");
  auto reg = Registry::open(db);
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, ErrorCode::Unsupported);
}

TEST(RegistryTest, InMemoryDatabaseWorks) {
  auto reg = openRegistry(":memory:");
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("m")));
  expectSameFunction(*reg->getFunction("m"), sampleFunction("m"));
}

TEST(RegistryTest, NotADatabaseFails) {
  TempDir tmp;
  const fs::path db = tmp.path() / "kindling.db";
  testing::writeFile(db, std::string(4096, 'x'));
  auto reg = Registry::open(db);
  ASSERT_FALSE(reg);
  EXPECT_NE(reg.error().context.find("kindling.db"), std::string::npos) << reg.error().message();
}

TEST(RegistryTest, ForeignKeysAreEnforced) {
  TempDir tmp;
  const fs::path db = tmp.path() / "kindling.db";
  auto reg = openRegistry(db);
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->createFunction(sampleFunction("f")));
  ASSERT_TRUE(reg->deleteFunction("f"));
  // ON DELETE CASCADE ran, which only happens with PRAGMA foreign_keys=ON on our connection.
  EXPECT_EQ(rawQuery(db, "SELECT COUNT(*) FROM function_tags"), "0");
}

TEST(RegistryTest, ConcurrentWritersAndReaders) {
  TempDir tmp;
  auto reg = openRegistry(tmp.path() / "kindling.db");
  ASSERT_TRUE(reg);
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!reg->createFunction(sampleFunction(name))) ++failures;
        if (!reg->tagFunction(name, {{"i", std::to_string(i)}})) ++failures;
        auto got = reg->getFunction(name);
        if (!got || got->tags.count("i") == 0 || got->tags["i"] != std::to_string(i)) ++failures;
        if (!reg->listFunctions()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(reg->listFunctions()->size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace kindling::store
