// NodeSnapshots: which launch lines get a blob and under which key, the command-line rewriting,
// and the build (against a fake `node` script that writes what --snapshot-blob names).
#include "scheduler/node_snapshots.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "fakes/temp_dir.h"

namespace kindling::scheduler {
namespace {

namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& text, fs::perms mode = fs::perms(0644)) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  fs::permissions(path, mode);
}

// A `node` that records its arguments next to itself and, unless FAIL exists beside it,
// writes "blob" to the path after --snapshot-blob, as a real build would.
constexpr const char* kFakeNode = R"(#!/bin/sh
here=$(dirname "$0")
echo "$@" > "$here/args"
pwd > "$here/cwd"
if [ -e "$here/FAIL" ]; then echo "snapshot build broke" >&2; exit 3; fi
while [ $# -gt 0 ]; do
  if [ "$1" = "--snapshot-blob" ]; then printf blob > "$2"; fi
  shift
done
)";

class NodeSnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lang_ = dir_.path() / "toolchains" / "node22";
    writeFile(lang_ / "bin" / "node", kFakeNode, fs::perms(0755));
    runtime_ = dir_.path() / "runtimes" / "node";
    writeFile(runtime_ / "bootstrap.cjs", "// bootstrap");
  }
  // The engine's sandboxed fast-start line for a 1769 MB function.
  sandbox::SpawnSpec spec() const {
    sandbox::SpawnSpec s;
    s.argv = {"/var/lang/bin/node", "--max-http-header-size=81920", "--max-semi-space-size=88",
              "--max-old-space-size=1593", "/var/runtime/bootstrap.cjs"};
    s.env = {"PATH=/var/lang/bin:/usr/bin", "_HANDLER=index.handler"};
    s.view.lang_dir = lang_;
    s.view.runtime_dir = runtime_;
    return s;
  }
  // The same line without a mount namespace: host paths.
  sandbox::SpawnSpec hostSpec() const {
    sandbox::SpawnSpec s = spec();
    s.argv.front() = (lang_ / "bin" / "node").string();
    s.argv.back() = (runtime_ / "bootstrap.cjs").string();
    s.view.lang_dir.clear();
    return s;
  }
  fs::path blobDir() const { return dir_.path() / "blobs"; }

  fakes::TempDir dir_;
  fs::path lang_;
  fs::path runtime_;
};

TEST_F(NodeSnapshotsTest, KeyFollowsTheBinaryTheFlagsAndTheBootstrap) {
  const auto base = NodeSnapshots::identify(spec(), true);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->key.size(), 32u);
  EXPECT_EQ(base->bootstrap, runtime_ / "bootstrap.cjs");
  EXPECT_EQ(NodeSnapshots::identify(spec(), true)->key, base->key);  // stable

  auto other_memory = spec();
  other_memory.argv[3] = "--max-old-space-size=116";
  EXPECT_NE(NodeSnapshots::identify(other_memory, true)->key, base->key);

  // Not part of the key: the environment, the handler.
  auto other_env = spec();
  other_env.env.push_back("_HANDLER=other.handler");
  EXPECT_EQ(NodeSnapshots::identify(other_env, true)->key, base->key);

  // Unsandboxed, the same files under their host paths: the same blob.
  EXPECT_EQ(NodeSnapshots::identify(hostSpec(), false)->key, base->key);

  // A new bootstrap (size or mtime) or node binary: another key.
  writeFile(runtime_ / "bootstrap.cjs", "// bootstrap, edited");
  const auto edited = NodeSnapshots::identify(spec(), true);
  EXPECT_NE(edited->key, base->key);
  const timespec old_times[2] = {{1000, 0}, {1000, 0}};
  ::utimensat(AT_FDCWD, (lang_ / "bin" / "node").c_str(), old_times, 0);
  EXPECT_NE(NodeSnapshots::identify(spec(), true)->key, edited->key);
}

TEST_F(NodeSnapshotsTest, LinesThatCannotStartFromABlobHaveNoIdentity) {
  auto options = spec();
  options.env.push_back("NODE_OPTIONS=--max-old-space-size=300");
  EXPECT_FALSE(NodeSnapshots::identify(options, true).has_value());

  auto handler_arg = spec();
  handler_arg.argv.push_back("index.handler");
  EXPECT_FALSE(NodeSnapshots::identify(handler_arg, true).has_value());

  auto other_script = spec();
  other_script.argv.back() = "/var/task/bootstrap.cjs";
  EXPECT_FALSE(NodeSnapshots::identify(other_script, true).has_value());

  auto not_a_flag = spec();
  not_a_flag.argv.insert(not_a_flag.argv.begin() + 1, "-e");
  EXPECT_FALSE(NodeSnapshots::identify(not_a_flag, true).has_value());

  auto missing = spec();
  missing.view.lang_dir = dir_.path() / "nowhere";
  EXPECT_FALSE(NodeSnapshots::identify(missing, true).has_value());
}

TEST_F(NodeSnapshotsTest, BuildRunsNodeWithTheLinesFlagsAndKeepsTheBlobReadOnly) {
  NodeSnapshots snapshots(blobDir());
  auto blob = snapshots.build(spec(), true);
  ASSERT_TRUE(blob.has_value()) << blob.error().message();
  const auto id = NodeSnapshots::identify(spec(), true);
  EXPECT_EQ(*blob, blobDir() / (id->key + ".blob"));
  std::ifstream in(*blob);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "blob");
  struct stat st {};
  ASSERT_EQ(::stat(blob->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  std::ifstream args_in(lang_ / "bin" / "args");
  std::string args;
  std::getline(args_in, args);
  const std::string partial = (blobDir() / ("." + id->key + ".partial")).string();
  EXPECT_EQ(args, "--max-http-header-size=81920 --max-semi-space-size=88 "
                  "--max-old-space-size=1593 --snapshot-blob " + partial +
                  " --build-snapshot " + (runtime_ / "bootstrap.cjs").string());
  std::ifstream cwd_in(lang_ / "bin" / "cwd");
  std::string cwd;
  std::getline(cwd_in, cwd);
  EXPECT_EQ(fs::path(cwd), runtime_);
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(NodeSnapshotsTest, ABuildRemovesBlobsOfAnOlderBootstrap) {
  // Blobs written before the bootstrap last changed (their keys name an older stamp of it):
  // gone after the next build; a blob written since (another Node version's) stays.
  const auto now = fs::file_time_type::clock::now();
  writeFile(blobDir() / "0123456789abcdef0123456789abcdef.blob", "old");
  fs::last_write_time(blobDir() / "0123456789abcdef0123456789abcdef.blob", now - std::chrono::hours(2));
  writeFile(blobDir() / "notes.txt", "not a blob");
  fs::last_write_time(blobDir() / "notes.txt", now - std::chrono::hours(2));
  fs::last_write_time(runtime_ / "bootstrap.cjs", now - std::chrono::hours(1));
  writeFile(blobDir() / "fedcba9876543210fedcba9876543210.blob", "node24's");
  NodeSnapshots snapshots(blobDir());
  auto blob = snapshots.build(spec(), true);
  ASSERT_TRUE(blob.has_value()) << blob.error().message();
  EXPECT_TRUE(fs::exists(*blob));
  EXPECT_FALSE(fs::exists(blobDir() / "0123456789abcdef0123456789abcdef.blob"));
  EXPECT_TRUE(fs::exists(blobDir() / "fedcba9876543210fedcba9876543210.blob"));
  EXPECT_TRUE(fs::exists(blobDir() / "notes.txt"));
  // A bootstrap stamped in the future (a clock set back) removes nothing just built.
  fs::last_write_time(runtime_ / "bootstrap.cjs", now + std::chrono::hours(1));
  NodeSnapshots again(blobDir());
  auto rebuilt = again.build(hostSpec(), false);
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().message();
  EXPECT_TRUE(fs::exists(*rebuilt));
}

TEST_F(NodeSnapshotsTest, AFailedBuildSaysWhyAndLeavesNothing) {
  writeFile(lang_ / "bin" / "FAIL", "");
  NodeSnapshots snapshots(blobDir());
  auto blob = snapshots.build(spec(), true);
  ASSERT_FALSE(blob.has_value());
  EXPECT_NE(blob.error().message().find("exit status 3"), std::string::npos)
      << blob.error().message();
  EXPECT_NE(blob.error().message().find("snapshot build broke"), std::string::npos)
      << blob.error().message();
  EXPECT_TRUE(fs::is_empty(blobDir()));
}

TEST_F(NodeSnapshotsTest, UseRewritesTheLineOnceTheBlobExistsAndBuildsItOtherwise) {
  NodeSnapshots snapshots(blobDir());
  auto first = spec();
  EXPECT_FALSE(snapshots.use(first, /*isolated=*/true));
  EXPECT_EQ(first.argv, spec().argv);  // unchanged while there is no blob
  EXPECT_TRUE(first.view.extra_read_only.empty());
  // The build was queued on the snapshots' own thread.
  const auto id = NodeSnapshots::identify(spec(), true);
  const fs::path blob = blobDir() / (id->key + ".blob");
  for (int i = 0; i < 500 && !fs::exists(blob); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(blob));

  auto isolated = spec();
  EXPECT_TRUE(snapshots.use(isolated, /*isolated=*/true));
  const std::string inside = "/var/kindling-node/" + id->key + ".blob";
  const std::vector<std::string> expected = {
      "/var/lang/bin/node", "--max-http-header-size=81920", "--max-semi-space-size=88",
      "--max-old-space-size=1593", "--snapshot-blob", inside};
  EXPECT_EQ(isolated.argv, expected);
  ASSERT_EQ(isolated.view.extra_read_only.size(), 1u);
  EXPECT_EQ(isolated.view.extra_read_only[0].first, blob);
  EXPECT_EQ(isolated.view.extra_read_only[0].second, fs::path(inside));

  auto host = hostSpec();
  EXPECT_TRUE(snapshots.use(host, /*isolated=*/false));
  EXPECT_EQ(host.argv.back(), blob.string());
  EXPECT_TRUE(host.view.extra_read_only.empty());

  // A line without an identity is left alone and builds nothing.
  auto options = spec();
  options.env.push_back("NODE_OPTIONS=--inspect");
  EXPECT_FALSE(snapshots.use(options, true));
  EXPECT_EQ(options.argv, spec().argv);
}

TEST_F(NodeSnapshotsTest, AKeyIsBuiltOnceInADaemonsLife) {
  writeFile(lang_ / "bin" / "FAIL", "");
  const fs::path ran = lang_ / "bin" / "args";
  auto waitRan = [&] {
    for (int i = 0; i < 500 && !fs::exists(ran); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fs::exists(ran);
  };
  auto line = spec();
  {
    NodeSnapshots snapshots(blobDir());
    snapshots.prepare(line, true);
    ASSERT_TRUE(waitRan());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the build finishes
    fs::remove(ran);
    fs::remove(lang_ / "bin" / "FAIL");
    // Failed once: neither a cold start nor a prewarm builds it again in this life.
    EXPECT_FALSE(snapshots.use(line, true));
    snapshots.prepare(line, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(fs::exists(ran));
  }
  NodeSnapshots again(blobDir());  // a restarted daemon tries again
  EXPECT_FALSE(again.use(line, true));
  EXPECT_TRUE(waitRan());
}

}  // namespace
}  // namespace kindling::scheduler
