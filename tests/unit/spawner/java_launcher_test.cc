// The Java zygote's view of a `java` command line (spawner/java_launcher.h): what the JDK's
// launcher would hand the JVM for the engine's own Java lines, the class-path wildcard expansion
// a class-data archive's validation depends on, and the launcher-only actions it refuses.
#include "spawner/java_launcher.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"

namespace kindling::spawner {
namespace {

namespace fs = std::filesystem;

class JavaLauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "lib" / "nested.jar");  // a directory named like a jar
    for (const char* name : {"b.jar", "a.JAR", "c.Jar", "notes.txt", "d.jarx", "jar"}) {
      std::ofstream(dir_ / "lib" / name) << "x";
    }
  }

  // The directory's entries ending in .jar (any case), in readdir order: what the JDK's
  // launcher expands "lib/*" to.
  std::vector<std::string> readdirJars() const {
    std::vector<std::string> out;
    DIR* d = ::opendir((dir_ / "lib").c_str());
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() >= 4) {
        std::string suffix = name.substr(name.size() - 4);
        for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (suffix == ".jar") out.push_back((dir_ / "lib" / name).string());
      }
    }
    ::closedir(d);
    return out;
  }

  fakes::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ":") + p;
  return out;
}

TEST_F(JavaLauncherTest, EngineLineBecomesTheLaunchersJvmOptions) {
  const std::string runtime_jar = (dir_ / "runtime.jar").string();
  const std::vector<std::string> argv = {
      "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-XX:+UnlockDiagnosticVMOptions",
      "-XX:ArchiveRelocationMode=0", "-XX:MaxHeapSize=221184k", "-XX:+UseSerialGC",
      "-Xshare:auto", "-Dfile.encoding=UTF-8", "-XX:SharedArchiveFile=/x/java-17.jsa",
      "-Xlog:cds=off", "-cp", runtime_jar + ":" + (dir_ / "lib" / "*").string(),
      "dev.kindling.lambda.Bootstrap"};
  auto launch = parseJavaCommandLine(argv, "");
  ASSERT_TRUE(launch) << launch.error().message();
  EXPECT_EQ(launch->main_class, "dev.kindling.lambda.Bootstrap");
  EXPECT_TRUE(launch->main_args.empty());
  EXPECT_EQ(launch->stack_size, size_t{1} << 20);
  std::vector<std::string> expected(argv.begin() + 1, argv.begin() + 9);
  expected.push_back("-Djava.class.path=" + runtime_jar + ":" + join(readdirJars()));
  expected.push_back("-Dsun.java.command=dev.kindling.lambda.Bootstrap");
  expected.push_back("-Dsun.java.launcher=SUN_STANDARD");
  EXPECT_EQ(launch->vm_options, expected);
}

TEST_F(JavaLauncherTest, WildcardsExpandToJarsInDirectoryOrder) {
  const std::string lib = (dir_ / "lib").string();
  // Three jars (any case of ".jar"), the directory named nested.jar too (the launcher does not
  // stat), in readdir order; nothing else.
  EXPECT_EQ(expandClassPathWildcards(lib + "/*"), join(readdirJars()));
  EXPECT_EQ(readdirJars().size(), 4u);
  // Entries around it are kept as they are; an entry that expands to nothing is dropped.
  EXPECT_EQ(expandClassPathWildcards("/a:" + lib + "/*:/b"), "/a:" + join(readdirJars()) + ":/b");
  EXPECT_EQ(expandClassPathWildcards("/a:/no/such/dir/*:/b"), "/a:/b");
  // Only a whole "*" entry is a wildcard; a class path without '*' is untouched.
  EXPECT_EQ(expandClassPathWildcards(lib + "/*.jar"), lib + "/*.jar");
  EXPECT_EQ(expandClassPathWildcards("/a::/b"), "/a::/b");
  // "*" alone: the working directory's jars, by their bare names.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_ / "lib");
  const std::string bare = expandClassPathWildcards("*");
  fs::current_path(cwd);
  std::string expected;
  for (const auto& jar : readdirJars()) {
    expected += (expected.empty() ? "" : ":") + fs::path(jar).filename().string();
  }
  EXPECT_EQ(bare, expected);
}

TEST_F(JavaLauncherTest, ClassPathSourcesAndMainArguments) {
  // CLASSPATH first; a later -cp / --class-path adds its own (the JVM takes the last).
  auto launch = parseJavaCommandLine({"java", "--class-path=/x", "Main", "a", "b c"}, "/env");
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->vm_options,
            (std::vector<std::string>{"-Djava.class.path=/env", "-Djava.class.path=/x",
                                      "-Dsun.java.command=Main a b c",
                                      "-Dsun.java.launcher=SUN_STANDARD"}));
  EXPECT_EQ(launch->main_args, (std::vector<std::string>{"a", "b c"}));
  // No class path at all: none passed (the JVM's own default applies).
  launch = parseJavaCommandLine({"java", "-ea", "Main"}, "");
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->vm_options.front(), "-ea");
  EXPECT_EQ(launch->vm_options.size(), 3u);
  // Two-argument module options reach the JVM as name=value.
  launch = parseJavaCommandLine({"java", "--add-opens", "java.base/java.lang=ALL-UNNAMED", "-p",
                                 "/mods", "Main"},
                                "");
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->vm_options[0], "--add-opens=java.base/java.lang=ALL-UNNAMED");
  EXPECT_EQ(launch->vm_options[1], "--module-path=/mods");
}

TEST_F(JavaLauncherTest, MainThreadStackFollowsXss) {
  auto launch = parseJavaCommandLine({"java", "-Xss4m", "Main"}, "");
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->stack_size, size_t{4} << 20);
  EXPECT_EQ(launch->vm_options[0], "-Xss4m");  // the JVM sees it too (its other threads)
  launch = parseJavaCommandLine({"java", "-XX:ThreadStackSize=2048", "Main"}, "");
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->stack_size, size_t{2} << 20);
  launch = parseJavaCommandLine({"java", "-Xss1k", "Main"}, "");  // the launcher's minimum
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->stack_size, size_t{64} << 10);
  launch = parseJavaCommandLine({"java", "-Xssbig", "Main"}, "");  // malformed: default kept
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->stack_size, size_t{1} << 20);
  EXPECT_EQ(parseJavaSize("512K", 1), 512u << 10);
  EXPECT_EQ(parseJavaSize("3G", 1), size_t{3} << 30);
  EXPECT_EQ(parseJavaSize("100", 1024), 100u << 10);
  EXPECT_EQ(parseJavaSize("", 1), 0u);
  EXPECT_EQ(parseJavaSize("12mb", 1), 0u);
  EXPECT_EQ(parseJavaSize("99999999999999999999", 1), 0u);
}

TEST_F(JavaLauncherTest, RefusesLauncherOnlyActionsAndIncompleteLines) {
  for (const char* action : {"-jar", "-version", "--version", "-showversion", "-help", "-X",
                             "-m", "--module=m/Main", "-XshowSettings:all", "@args.txt",
                             "--dry-run", "-d64", "-splash:x.png"}) {
    auto launch = parseJavaCommandLine({"java", action, "Main"}, "");
    ASSERT_FALSE(launch) << action;
    EXPECT_NE(launch.error().message().find(action), std::string::npos)
        << launch.error().message();
  }
  EXPECT_FALSE(parseJavaCommandLine({"java", "-cp"}, ""));
  EXPECT_FALSE(parseJavaCommandLine({"java", "-cp", "/x"}, ""));  // no main class
  EXPECT_FALSE(parseJavaCommandLine({"java", "--add-opens"}, ""));
  EXPECT_FALSE(parseJavaCommandLine({"java"}, ""));
}

}  // namespace
}  // namespace kindling::spawner
