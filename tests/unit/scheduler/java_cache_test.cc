// JavaCache: the archive key (what makes an archive stale), its paths, and the command-line
// rewriting for cold starts and training runs, against a fake JDK and runtime in a temp dir.
#include "scheduler/java_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace kindling::scheduler {
namespace {

namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class JavaCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kd-java-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    jdk_ = dir_ / "jvm" / "java-17";
    writeFile(jdk_ / "bin/java", "#!java");
    writeFile(jdk_ / "release", "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"17.0.13\"\n");
    writeFile(jdk_ / "lib/server/libjvm.so", "libjvm");
    writeFile(jdk_ / "lib/server/classes.jsa", "base");
    sdk_ = dir_ / "sdk";
    writeFile(sdk_ / "runtime.jar", "runtime");
    writeFile(sdk_ / "lib/a.jar", "a");
    writeFile(sdk_ / "lib/b.jar", "bb");
    writeFile(sdk_ / "lib/notes.txt", "not a jar");
    fn_.name = "fn";
    fn_.version = "3";
    fn_.handler = "example.Hello";
    fn_.code_sha256_hex = "aa";
    spec_.argv = {(jdk_ / "bin/java").string(),
                  "-XX:MaxHeapSize=100k",
                  "-Xshare:auto",
                  "-XX:SharedArchiveFile=" + (sdk_ / "cds/x.jsa").string(),
                  "-Xlog:cds=off",
                  "-Xlog:cds+dynamic=off",
                  "-cp",
                  (sdk_ / "runtime.jar").string() + ":" + (sdk_ / "lib/*").string(),
                  "dev.kindling.lambda.Bootstrap"};
    spec_.env = {"AWS_LAMBDA_RUNTIME_API=127.0.0.1:4000", "AWS_LAMBDA_LOG_STREAM_NAME=a",
                 "LAMBDA_TASK_ROOT=/var/task"};
    spec_.cwd = "/var/task";
    spec_.memory_mb = 256;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string key() const {
    auto id = JavaCache::identify(fn_, spec_, false);
    EXPECT_TRUE(id) << id.error().message();
    return id ? id->key : std::string();
  }

  fs::path dir_, jdk_, sdk_;
  store::FunctionConfig fn_;
  sandbox::SpawnSpec spec_;
};

TEST(JavaRelease, MajorVersion) {
  EXPECT_EQ(javaMajorFromRelease("JAVA_VERSION=\"17.0.13\"\n"), 17);
  EXPECT_EQ(javaMajorFromRelease("IMPLEMENTOR=\"E\"\nJAVA_VERSION=\"25.0.3\"\nX=1"), 25);
  EXPECT_EQ(javaMajorFromRelease("JAVA_VERSION=\"21\""), 21);
  EXPECT_EQ(javaMajorFromRelease("XJAVA_VERSION=\"21\""), 0);  // not at a line start
  EXPECT_EQ(javaMajorFromRelease(""), 0);
}

TEST_F(JavaCacheTest, KeyIsStableAndNamesTheKind) {
  auto id = JavaCache::identify(fn_, spec_, false);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->kind, JavaArchiveKind::DynamicArchive);
  EXPECT_EQ(id->key.size(), 32u);
  EXPECT_EQ(id->key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key(), id->key);
  writeFile(jdk_ / "release", "JAVA_VERSION=\"25.0.3\"\n");
  auto aot = JavaCache::identify(fn_, spec_, false);
  ASSERT_TRUE(aot);
  EXPECT_EQ(aot->kind, JavaArchiveKind::AotCache);
  EXPECT_NE(aot->key, id->key);
}

TEST_F(JavaCacheTest, KeyIgnoresArchiveFlagsAndPerEnvironmentVariables) {
  const std::string before = key();
  // The runtime archive flags come and go with the runtime archive; the Runtime API address
  // and log stream differ for every environment.
  spec_.argv.erase(spec_.argv.begin() + 2, spec_.argv.begin() + 6);
  spec_.env = {"AWS_LAMBDA_RUNTIME_API=127.0.0.1:5000", "AWS_LAMBDA_LOG_STREAM_NAME=b",
               "LAMBDA_TASK_ROOT=/var/task"};
  EXPECT_EQ(key(), before);
}

TEST_F(JavaCacheTest, KeyChangesWithEveryInputTheArchiveDependsOn) {
  const std::string base = key();
  auto changed = [&](auto mutate, auto restore, const char* what) {
    mutate();
    EXPECT_NE(key(), base) << what;
    restore();
    EXPECT_EQ(key(), base) << what << " (restored)";
  };
  const auto jar_time = fs::last_write_time(sdk_ / "lib/a.jar");
  changed([&] { fs::last_write_time(sdk_ / "lib/a.jar", jar_time + std::chrono::seconds(5)); },
          [&] { fs::last_write_time(sdk_ / "lib/a.jar", jar_time); }, "jar mtime");
  const auto rt_time = fs::last_write_time(sdk_ / "runtime.jar");
  changed([&] { writeFile(sdk_ / "runtime.jar", "runtime2"); },
          [&] {
            writeFile(sdk_ / "runtime.jar", "runtime");
            fs::last_write_time(sdk_ / "runtime.jar", rt_time);
          },
          "runtime jar size");
  changed([&] { writeFile(sdk_ / "lib/c.jar", "c"); }, [&] { fs::remove(sdk_ / "lib/c.jar"); },
          "jar added");
  const auto jvm_time = fs::last_write_time(jdk_ / "lib/server/libjvm.so");
  changed(
      [&] { fs::last_write_time(jdk_ / "lib/server/libjvm.so", jvm_time + std::chrono::hours(1)); },
      [&] { fs::last_write_time(jdk_ / "lib/server/libjvm.so", jvm_time); }, "libjvm mtime");
  changed([&] { writeFile(jdk_ / "release", "JAVA_VERSION=\"17.0.14\"\n"); },
          [&] { writeFile(jdk_ / "release", "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"17.0.13\"\n"); },
          "release");
  changed([&] { fn_.code_sha256_hex = "bb"; }, [&] { fn_.code_sha256_hex = "aa"; }, "code");
  changed([&] { fn_.layers.push_back({}); }, [&] { fn_.layers.clear(); }, "layers");
  changed([&] { spec_.argv[1] = "-XX:MaxHeapSize=200k"; },
          [&] { spec_.argv[1] = "-XX:MaxHeapSize=100k"; }, "heap flag");
  changed([&] { spec_.env.push_back("JAVA_TOOL_OPTIONS=-Xint"); },
          [&] { spec_.env.pop_back(); }, "JAVA_TOOL_OPTIONS");
  changed([&] { fn_.handler = "example.Other"; }, [&] { fn_.handler = "example.Hello"; },
          "handler");
}

TEST_F(JavaCacheTest, MissingJdkFilesAreErrors) {
  fs::remove(jdk_ / "release");
  EXPECT_FALSE(JavaCache::identify(fn_, spec_, false));
  writeFile(jdk_ / "release", "JAVA_VERSION=\"17\"\n");
  fs::remove(jdk_ / "lib/server/libjvm.so");
  EXPECT_FALSE(JavaCache::identify(fn_, spec_, false));
  writeFile(jdk_ / "lib/server/libjvm.so", "x");
  fs::remove(sdk_ / "runtime.jar");
  EXPECT_FALSE(JavaCache::identify(fn_, spec_, false));
  sandbox::SpawnSpec not_java;
  not_java.argv = {"/usr/bin/python3", "-cp", "x"};
  EXPECT_FALSE(JavaCache::isJavaLaunch(not_java));
  EXPECT_FALSE(JavaCache::identify(fn_, not_java, false));
}

TEST_F(JavaCacheTest, IsolatedPathsAreMappedThroughTheView) {
  // Inside the sandbox the SDK is bound elsewhere; its jars are stat'ed at their host path.
  spec_.argv[7] = "/var/kindling/sdk/runtime.jar:/var/kindling/sdk/lib/*";
  EXPECT_FALSE(JavaCache::identify(fn_, spec_, true));  // no such bind: not found on the host
  spec_.view.extra_read_only.emplace_back(sdk_, "/var/kindling/sdk");
  auto id = JavaCache::identify(fn_, spec_, true);
  ASSERT_TRUE(id) << id.error().message();
  const auto time = fs::last_write_time(sdk_ / "lib/b.jar");
  fs::last_write_time(sdk_ / "lib/b.jar", time + std::chrono::seconds(1));
  auto later = JavaCache::identify(fn_, spec_, true);
  ASSERT_TRUE(later);
  EXPECT_NE(later->key, id->key);
}

TEST_F(JavaCacheTest, PathsRejectNamesThatAreNotOneComponent) {
  JavaCache cache(dir_ / "java-cache");
  auto ok = cache.versionDir("fn", "3");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, dir_ / "java-cache/fn/3");
  for (auto [f, v] : {std::pair{"", "1"}, {"fn", ""}, {"..", "1"}, {"fn", ".."}, {"a/b", "1"},
                      {"fn", "."}}) {
    EXPECT_FALSE(cache.versionDir(f, v)) << f << ":" << v;
  }
  EXPECT_FALSE(cache.removeFunction(".."));
  JavaCache::Identity id{JavaArchiveKind::AotCache, "0123"};
  EXPECT_EQ(*cache.archivePath("fn", "3", id), dir_ / "java-cache/fn/3/0123.aot");
}

// The archive the engine would pass for this launch: its identity, then the cache's file.
std::optional<fs::path> findFor(const JavaCache& cache, const store::FunctionConfig& fn,
                                const sandbox::SpawnSpec& spec) {
  auto id = JavaCache::identify(fn, spec, false);
  return id ? cache.find(fn, *id) : std::nullopt;
}

TEST_F(JavaCacheTest, FindUsesOnlyAnArchiveWhoseKeyMatches) {
  JavaCache cache(dir_ / "java-cache");
  EXPECT_FALSE(findFor(cache, fn_, spec_));
  auto id = JavaCache::identify(fn_, spec_, false);
  ASSERT_TRUE(id);
  const fs::path path = *cache.archivePath(fn_.name, fn_.version, *id);
  writeFile(path, "archive");
  auto found = findFor(cache, fn_, spec_);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, path);
  // Another version of the function, or the JDK updated: stale, never passed.
  fn_.version = "4";
  EXPECT_FALSE(findFor(cache, fn_, spec_));
  fn_.version = "3";
  fs::last_write_time(jdk_ / "lib/server/libjvm.so",
                      fs::last_write_time(jdk_ / "lib/server/libjvm.so") + std::chrono::hours(1));
  EXPECT_FALSE(findFor(cache, fn_, spec_));
  // A directory or symlink under the name is not an archive.
  auto fresh = JavaCache::identify(fn_, spec_, false);
  ASSERT_TRUE(fresh);
  const fs::path link = *cache.archivePath(fn_.name, fn_.version, *fresh);
  fs::create_symlink(path, link);
  EXPECT_FALSE(findFor(cache, fn_, spec_));
}

TEST_F(JavaCacheTest, UseArchiveReplacesTheRuntimeArchive) {
  sandbox::SpawnSpec spec = spec_;
  JavaCache::useArchive(spec, "/data/java-cache/fn/3/k.jsa", JavaArchiveKind::DynamicArchive,
                        true);
  const auto cp = std::find(spec.argv.begin(), spec.argv.end(), "-cp") - spec.argv.begin();
  EXPECT_TRUE(contains(spec.argv, "-Xshare:auto"));
  EXPECT_EQ(std::count_if(spec.argv.begin(), spec.argv.end(),
                          [](const std::string& a) { return a.rfind("-XX:SharedArchiveFile", 0) == 0; }),
            1);
  EXPECT_EQ(spec.argv[static_cast<size_t>(cp) - 3],
            "-XX:SharedArchiveFile=/var/kindling-cache/k.jsa");
  EXPECT_EQ(spec.argv.back(), "dev.kindling.lambda.Bootstrap");
  ASSERT_EQ(spec.view.extra_read_only.size(), 1u);
  EXPECT_EQ(spec.view.extra_read_only[0].first, "/data/java-cache/fn/3/k.jsa");
  EXPECT_EQ(spec.view.extra_read_only[0].second, "/var/kindling-cache/k.jsa");
  EXPECT_TRUE(spec.view.read_write.first.empty());

  // The AOT cache refuses -Xshare:auto on the same line; not isolated: the host path.
  sandbox::SpawnSpec aot = spec_;
  JavaCache::useArchive(aot, "/data/k.aot", JavaArchiveKind::AotCache, false);
  EXPECT_TRUE(contains(aot.argv, "-XX:AOTCache=/data/k.aot"));
  for (const auto& arg : aot.argv) {
    EXPECT_NE(arg.rfind("-Xshare:", 0), 0u) << arg;
    EXPECT_NE(arg.rfind("-XX:SharedArchiveFile", 0), 0u) << arg;
  }
  EXPECT_TRUE(aot.view.extra_read_only.empty());
  // The key is computed from the unmodified line, and the rewritten one maps to the same key.
  EXPECT_EQ(JavaCache::identify(fn_, spec, false)->key, key());
}

TEST_F(JavaCacheTest, MakeTrainingWritesIntoTheWritableBind) {
  sandbox::SpawnSpec spec = spec_;
  spec.zygote = sandbox::ZygoteSpec{"java17:/jdk/lib/server/libjvm.so", {"zygote"}, {}, nullptr};
  JavaCache::makeTraining(spec, "/data/java-cache/fn/3/.train-x", "k.jsa",
                          JavaArchiveKind::DynamicArchive, true, "127.0.0.1:1");
  EXPECT_TRUE(contains(spec.argv, "-XX:ArchiveClassesAtExit=/var/kindling-cache/k.jsa"));
  EXPECT_TRUE(contains(spec.argv, "-Xshare:auto"));
  for (const auto& arg : spec.argv) EXPECT_NE(arg.rfind("-XX:SharedArchiveFile", 0), 0u) << arg;
  EXPECT_TRUE(contains(spec.env, "KINDLING_JAVA_TRAINING=1"));
  EXPECT_TRUE(contains(spec.env, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1"));
  EXPECT_FALSE(contains(spec.env, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:4000"));
  EXPECT_EQ(spec.view.read_write.first, "/data/java-cache/fn/3/.train-x");
  EXPECT_EQ(spec.view.read_write.second, "/var/kindling-cache");
  EXPECT_EQ(spec.memory_mb, 256);
  // Exec'd through the JDK's launcher, never forked from the Java zygote.
  EXPECT_FALSE(spec.zygote.has_value());
  // Its key is the environments' key: training and use agree.
  EXPECT_EQ(JavaCache::identify(fn_, spec, false)->key, key());

  sandbox::SpawnSpec aot = spec_;
  JavaCache::makeTraining(aot, "/out", "k.aot", JavaArchiveKind::AotCache, false, "127.0.0.1:1");
  EXPECT_TRUE(contains(aot.argv, "-XX:AOTCacheOutput=/out/k.aot"));
  EXPECT_FALSE(contains(aot.argv, "-Xshare:auto"));
  EXPECT_TRUE(aot.view.read_write.first.empty());
  EXPECT_EQ(aot.memory_mb, 1024);
}

TEST_F(JavaCacheTest, PruneKeepsOneFileAndRemoveDeletesTheTree) {
  JavaCache cache(dir_ / "java-cache");
  const fs::path version = dir_ / "java-cache/fn/3";
  writeFile(version / "new.jsa", "n");
  writeFile(version / "old.jsa", "o");
  writeFile(version / ".train-1/partial.jsa", "p");
  ASSERT_TRUE(cache.pruneVersion("fn", "3", "new.jsa"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(version)) left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"new.jsa"});
  EXPECT_TRUE(cache.pruneVersion("fn", "9", ""));  // nothing there: fine
  writeFile(dir_ / "java-cache/fn/4/x.aot", "x");
  ASSERT_TRUE(cache.removeVersion("fn", "3"));
  EXPECT_FALSE(fs::exists(version));
  EXPECT_TRUE(fs::exists(dir_ / "java-cache/fn/4/x.aot"));
  ASSERT_TRUE(cache.removeFunction("fn"));
  EXPECT_FALSE(fs::exists(dir_ / "java-cache/fn"));
  EXPECT_TRUE(cache.removeFunction("fn"));  // already gone: fine
}

}  // namespace
}  // namespace kindling::scheduler

namespace kindling::scheduler {
namespace {

// A stored (uncompressed) zip with the given entry names, written by hand: the test needs no
// zip tool, and jarClassCount reads only the central directory.
void writeZip(const fs::path& path, const std::vector<std::string>& names) {
  std::string out, central;
  auto u16 = [](std::string& s, uint16_t v) { s.push_back(char(v & 0xff)); s.push_back(char(v >> 8)); };
  auto u32 = [&](std::string& s, uint32_t v) { u16(s, uint16_t(v & 0xffff)); u16(s, uint16_t(v >> 16)); };
  for (const auto& name : names) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    u32(out, 0x04034b50); u16(out, 10); u16(out, 0); u16(out, 0); u16(out, 0); u16(out, 0);
    u32(out, 0); u32(out, 0); u32(out, 0); u16(out, uint16_t(name.size())); u16(out, 0);
    out += name;
    u32(central, 0x02014b50); u16(central, 20); u16(central, 10); u16(central, 0);
    u16(central, 0); u16(central, 0); u16(central, 0); u32(central, 0); u32(central, 0);
    u32(central, 0); u16(central, uint16_t(name.size())); u16(central, 0); u16(central, 0);
    u16(central, 0); u16(central, 0); u32(central, 0); u32(central, offset);
    central += name;
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  u32(out, 0x06054b50); u16(out, 0); u16(out, 0); u16(out, uint16_t(names.size()));
  u16(out, uint16_t(names.size())); u32(out, static_cast<uint32_t>(central.size()));
  u32(out, cd_offset); u16(out, 0);
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << out;
}

TEST(JavaArchivePolicy, FromTheTag) {
  store::FunctionConfig fn;
  EXPECT_EQ(javaArchivePolicy(fn), JavaArchivePolicy::Auto);
  fn.tags["kindling:java-archive"] = "always";
  EXPECT_EQ(javaArchivePolicy(fn), JavaArchivePolicy::Always);
  fn.tags["kindling:java-archive"] = "never";
  EXPECT_EQ(javaArchivePolicy(fn), JavaArchivePolicy::Never);
  fn.tags["kindling:java-archive"] = "auto";
  EXPECT_EQ(javaArchivePolicy(fn), JavaArchivePolicy::Auto);
}

TEST(JavaOwnClasses, CountsClassFilesAndJarEntriesAcrossRoots) {
  const fs::path dir = fs::temp_directory_path() / ("kd-own-classes-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  writeFile(dir / "task/example/Hello.class", "x");
  writeFile(dir / "task/example/Hello$1.class", "x");
  writeFile(dir / "task/README.txt", "not a class");
  std::vector<std::string> entries = {"META-INF/MANIFEST.MF", "okio/Buffer.class"};
  for (int i = 0; i < 150; ++i) entries.push_back("lib/C" + std::to_string(i) + ".class");
  writeZip(dir / "task/lib/big.jar", entries);
  writeZip(dir / "opt/java/lib/layer.jar", {"layer/A.class", "layer/B.class", "x.txt"});
  writeFile(dir / "task/lib/broken.jar", "not a zip");
  EXPECT_EQ(JavaCache::ownClassCount({dir / "task"}, 1000), 2u + 151u);
  EXPECT_EQ(JavaCache::ownClassCount({dir / "task", dir / "opt", ""}, 1000), 2u + 151u + 2u);
  // Stops early: a function with huge jars is not read through for a yes/no answer.
  EXPECT_EQ(JavaCache::ownClassCount({dir / "task"}, kJavaArchiveMinClasses),
            kJavaArchiveMinClasses);
  EXPECT_EQ(JavaCache::ownClassCount({dir / "missing"}, 1000), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kindling::scheduler
