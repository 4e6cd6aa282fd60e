#include "cli/demo.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cli/commands.h"

namespace kindling::cli {
namespace {

namespace fs = std::filesystem;

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kd-cli-demo-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::canonical(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void touch(const fs::path& p, std::string_view content = "x") {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  fs::path dir_;
};

using FindRepoRootTest = TempDirTest;

TEST_F(FindRepoRootTest, WalksUpFromTheExecutable) {
  fs::create_directories(dir_ / "repo/runtimes");
  fs::create_directories(dir_ / "repo/examples");
  touch(dir_ / "repo/CMakeLists.txt");
  // A build tree has runtimes/ and examples/ output dirs too: it is not the repository.
  fs::create_directories(dir_ / "repo/build/runtimes");
  fs::create_directories(dir_ / "repo/build/examples");
  const fs::path exe = dir_ / "repo/build/src/kindling";
  touch(exe);
  auto root = findRepoRoot(nullptr, exe);
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_EQ(*root, dir_ / "repo");
}

TEST_F(FindRepoRootTest, EnvironmentWinsAndIsValidated) {
  for (const char* d : {"repo/runtimes", "repo/examples", "other/runtimes", "other/examples"}) {
    fs::create_directories(dir_ / d);
  }
  touch(dir_ / "repo/CMakeLists.txt");
  touch(dir_ / "other/CMakeLists.txt");
  const fs::path exe = dir_ / "repo/build/kindling";
  touch(exe);
  auto root = findRepoRoot((dir_ / "other").c_str(), exe);
  ASSERT_TRUE(root);
  EXPECT_EQ(*root, dir_ / "other");

  auto bad = findRepoRoot((dir_ / "repo/build").c_str(), exe);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("KINDLING_HOME"), std::string::npos);

  auto empty_env = findRepoRoot("", exe);  // empty means unset
  ASSERT_TRUE(empty_env);
  EXPECT_EQ(*empty_env, dir_ / "repo");
}

TEST_F(FindRepoRootTest, FailsWhenNothingQualifies) {
  fs::create_directories(dir_ / "only-runtimes/runtimes");
  const fs::path exe = dir_ / "only-runtimes/bin/kindling";
  touch(exe);
  // dir_ lives under the temp dir, so no ancestor has both runtimes/ and examples/.
  auto root = findRepoRoot(nullptr, exe);
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, ErrorCode::NotFound);
}

TEST_F(TempDirTest, FindPayloadBootstrapLayouts) {
  const fs::path exe = dir_ / "build/src/cli/kindling";
  touch(exe);
  EXPECT_FALSE(findPayloadBootstrap(exe, ""));

  touch(dir_ / "hint/tests/payloads/bootstrap");
  auto from_hint = findPayloadBootstrap(exe, dir_ / "hint");
  ASSERT_TRUE(from_hint);
  EXPECT_EQ(*from_hint, dir_ / "hint/tests/payloads/bootstrap");

  touch(dir_ / "build/payloads/bootstrap");
  auto walked = findPayloadBootstrap(exe, dir_ / "hint");
  ASSERT_TRUE(walked);
  EXPECT_EQ(*walked, dir_ / "build/payloads/bootstrap");
}

TEST_F(TempDirTest, LoadCodeZipAcceptsZipsRejectsOtherFiles) {
  touch(dir_ / "notes.txt", "hello");
  auto text = loadCodeZip((dir_ / "notes.txt").string());
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, ErrorCode::InvalidZip);

  auto missing = loadCodeZip((dir_ / "missing").string());
  ASSERT_FALSE(missing);

  const std::string fake_zip("PK\x03\x04rest-of-zip", 15);
  touch(dir_ / "code.zip", fake_zip);
  auto zip = loadCodeZip((dir_ / "code.zip").string());
  ASSERT_TRUE(zip) << zip.error().message();
  EXPECT_EQ(*zip, fake_zip);
}

TEST_F(TempDirTest, LoadCodeZipZipsADirectory) {
  touch(dir_ / "src/app.py", "def handler(e, c):\n    return e\n");
  auto zip = loadCodeZip((dir_ / "src").string());
  ASSERT_TRUE(zip) << zip.error().message();
  ASSERT_GE(zip->size(), 4u);
  EXPECT_EQ(zip->substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_NE(zip->find("app.py"), std::string::npos);
}

TEST(DemoExamples, CoverEveryRuntimeFamilyInPreferenceOrder) {
  const auto& examples = demoExamples();
  ASSERT_EQ(examples.size(), 5u);
  EXPECT_EQ(examples[0].source, "examples/python/hello");
  EXPECT_EQ(examples[0].handler, "app.handler");
  EXPECT_EQ(examples[0].runtimes.front(), "python3.12");
  EXPECT_EQ(examples[1].source, "examples/node/hello");
  EXPECT_EQ(examples[1].handler, "index.handler");
  EXPECT_EQ(examples[2].source, "examples/ruby/hello");
  EXPECT_EQ(examples[2].runtimes.front(), "ruby3.1");
  EXPECT_EQ(examples[3].source, "build:examples/java/hello.zip");
  EXPECT_EQ(examples[3].handler, "example.Hello");
  EXPECT_EQ(examples[3].runtimes.front(), "java17");
  EXPECT_EQ(examples[4].source, "");
  EXPECT_EQ(examples[4].handler, "echo");
  EXPECT_EQ(examples[4].runtimes.front(), "provided.al2023");
  for (const DemoExample& ex : examples) {
    EXPECT_FALSE(ex.runtimes.empty());
    EXPECT_TRUE(ex.function_name.starts_with("kindling-demo-"));
  }
}

}  // namespace
}  // namespace kindling::cli
