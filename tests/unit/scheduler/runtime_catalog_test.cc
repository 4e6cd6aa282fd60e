// RuntimeCatalog: discovery against fake toolchain/pyenv trees in a temp dir, the two kinds of
// check() errors, and the process environment launch() builds.
#include "scheduler/runtime_catalog.h"
#include "scheduler/launch_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"

namespace kindling::scheduler {
namespace {

namespace fs = std::filesystem;

void writeExecutable(const fs::path& p, mode_t mode = 0755) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "#!/bin/sh\nexit 0\n";
  ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;
}

// "KEY=VALUE" list -> map; fails the test on a duplicated key.
std::map<std::string, std::string> envMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& kv : env) {
    const auto eq = kv.find('=');
    EXPECT_NE(eq, std::string::npos) << kv;
    EXPECT_TRUE(out.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second) << "duplicate " << kv;
  }
  return out;
}

class RuntimeCatalogTest : public ::testing::Test {
 protected:
  RuntimeCatalog::Paths paths() const {
    RuntimeCatalog::Paths p;
    p.runtimes_dir = dir_.path() / "runtimes";
    p.toolchains_dir = dir_.path() / "toolchains";
    p.python_sdk_dir = dir_.path() / "sdk" / "python";
    p.node_sdk_dir = dir_.path() / "sdk" / "node" / "node_modules";
    p.pyenv_versions_dir = dir_.path() / "pyenv";
    p.jvm_dir = dir_.path() / "jvm";
    p.java_runtime_dir = dir_.path() / "sdk" / "java";
    return p;
  }
  static store::FunctionConfig function(const std::string& runtime) {
    store::FunctionConfig fn;
    fn.name = "my-fn";
    fn.runtime = runtime;
    fn.handler = "app.handler";
    fn.memory_mb = 256;
    fn.ephemeral_storage_mb = 1024;
    return fn;
  }
  LaunchContext context() const {
    LaunchContext ctx;
    ctx.code_dir = "/srv/code/abc";
    ctx.runtime_api_port = 9001;
    ctx.runtime_api_host = "127.0.0.1";
    ctx.log_stream_name = "2023/11/14/[$LATEST]0123abcd";
    ctx.region = "eu-west-1";
    return ctx;
  }
  fakes::TempDir dir_;
};

TEST_F(RuntimeCatalogTest, UnknownRuntimeIdIsInvalidArgument) {
  const auto catalog = RuntimeCatalog::discover(paths());
  const Status st = catalog.check("cobol85");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(st.error().context,
            "Value cobol85 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
            "value set of Lambda runtime identifiers");
}

TEST_F(RuntimeCatalogTest, KnownButAbsentNodeSaysWhatToInstall) {
  const auto catalog = RuntimeCatalog::discover(paths());
  const Status st = catalog.check("nodejs20.x");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(st.error().context,
            "The runtime nodejs20.x is not available on this kindling host: run "
            "scripts/setup-runtimes.sh to install the official Node binary under " +
                (dir_.path() / "toolchains").string() + ".");
}

TEST_F(RuntimeCatalogTest, KnownButAbsentPythonNamesDebianAndPyenv) {
  if (::access("/usr/bin/python3.9", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/python3.9 exists on this host, so python3.9 is never absent";
  }
  const auto catalog = RuntimeCatalog::discover(paths());
  const Status st = catalog.check("python3.9");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(st.error().context,
            "The runtime python3.9 is not available on this kindling host: install python3.9 "
            "(Debian's /usr/bin/python3.9 or a pyenv build under " +
                (dir_.path() / "pyenv").string() + ").");
}

TEST_F(RuntimeCatalogTest, KnownButUnsupportedFamily) {
  const auto catalog = RuntimeCatalog::discover(paths());
  const Status st = catalog.check("dotnet8");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(st.error().context,
            "The runtime dotnet8 is not available on this kindling host: this runtime is not "
            "supported by kindling on this host yet.");
}

TEST_F(RuntimeCatalogTest, DiscoversToolchainsAndNewestPyenvPatch) {
  if (::access("/usr/bin/python3.9", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/python3.9 exists on this host and takes precedence over pyenv";
  }
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  writeExecutable(dir_.path() / "toolchains/node22/bin/node", 0644);  // not executable: ignored
  writeExecutable(dir_.path() / "pyenv/3.9.2/bin/python3.9");
  writeExecutable(dir_.path() / "pyenv/3.9.18/bin/python3.9");
  writeExecutable(dir_.path() / "pyenv/3.9.1/bin/python3.9");
  writeExecutable(dir_.path() / "pyenv/3.9.20/bin/python3.9", 0644);  // not executable
  const auto catalog = RuntimeCatalog::discover(paths());
  EXPECT_TRUE(catalog.check("nodejs20.x").has_value());
  EXPECT_FALSE(catalog.check("nodejs22.x").has_value());
  EXPECT_TRUE(catalog.check("python3.9").has_value());
  EXPECT_TRUE(catalog.check("provided").has_value());
  EXPECT_TRUE(catalog.check("provided.al2").has_value());
  EXPECT_TRUE(catalog.check("provided.al2023").has_value());

  std::map<std::string, RuntimeInfo> by_id;
  for (const auto& info : catalog.available()) by_id[info.id] = info;
  ASSERT_EQ(by_id.count("python3.9"), 1u);
  EXPECT_EQ(by_id["python3.9"].family, "python");
  EXPECT_EQ(by_id["python3.9"].interpreter, dir_.path() / "pyenv/3.9.18/bin/python3.9");
  ASSERT_EQ(by_id.count("nodejs20.x"), 1u);
  EXPECT_EQ(by_id["nodejs20.x"].family, "nodejs");
  EXPECT_EQ(by_id["nodejs20.x"].interpreter, dir_.path() / "toolchains/node20/bin/node");
  EXPECT_EQ(by_id["provided.al2023"].family, "provided");
  EXPECT_TRUE(by_id["provided.al2023"].interpreter.empty());

  // kindling's static link of the pyenv interpreter (setup-runtimes.sh) comes before pyenv's.
  writeExecutable(dir_.path() / "toolchains/python3.9/bin/python3.9");
  std::map<std::string, RuntimeInfo> linked;
  for (const auto& info : RuntimeCatalog::discover(paths()).available()) linked[info.id] = info;
  EXPECT_EQ(linked["python3.9"].interpreter, dir_.path() / "toolchains/python3.9/bin/python3.9");
}

TEST_F(RuntimeCatalogTest, LaunchProvidedSetsPlatformVariablesOverFunctionOnes) {
  const auto catalog = RuntimeCatalog::discover(paths());
  store::FunctionConfig fn = function("provided.al2023");
  fn.environment = {{"FOO", "bar"},
                    {"_HANDLER", "not-mine"},
                    {"AWS_REGION", "mars-north-1"},
                    {"AWS_LAMBDA_RUNTIME_API", "evil:1"},
                    {"AWS_LAMBDA_FUNCTION_NAME", "other"},
                    {"PATH", "/custom/bin"}};
  auto spec = catalog.launch(fn, context());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, (std::vector<std::string>{"/srv/code/abc/bootstrap"}));
  EXPECT_EQ(spec->cwd, fs::path("/srv/code/abc"));
  EXPECT_EQ(spec->memory_mb, 256);
  EXPECT_EQ(spec->ephemeral_storage_mb, 1024);
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(env["_HANDLER"], "app.handler");
  EXPECT_EQ(env["AWS_REGION"], "eu-west-1");
  EXPECT_EQ(env["AWS_DEFAULT_REGION"], "eu-west-1");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "my-fn");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
  EXPECT_EQ(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/my-fn");
  EXPECT_EQ(env["AWS_LAMBDA_LOG_STREAM_NAME"], "2023/11/14/[$LATEST]0123abcd");
  EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
  EXPECT_EQ(env["LAMBDA_TASK_ROOT"], "/srv/code/abc");
  EXPECT_EQ(env["FOO"], "bar");
  EXPECT_EQ(env["PATH"], "/custom/bin");  // overridable by the customer
  EXPECT_EQ(env["TZ"], ":UTC");
  EXPECT_EQ(env["LANG"], "en_US.UTF-8");
  EXPECT_EQ(env["AWS_ACCESS_KEY_ID"], "AKIAKINDLINGLOCAL000");
  EXPECT_EQ(env.count("AWS_EXECUTION_ENV"), 0u);  // custom runtimes have none
  EXPECT_EQ(env.count("LAMBDA_RUNTIME_DIR"), 0u);
}

TEST_F(RuntimeCatalogTest, LaunchSnapStartHasNoLogGroupOrStreamVariables) {
  // AWS: AWS_LAMBDA_LOG_GROUP_NAME / _STREAM_NAME are not available in SnapStart functions.
  const auto catalog = RuntimeCatalog::discover(paths());
  store::FunctionConfig fn = function("provided.al2023");
  LaunchContext ctx = context();
  ctx.initialization_type = "snap-start";
  auto spec = catalog.launch(fn, ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "snap-start");
  EXPECT_EQ(env.count("AWS_LAMBDA_LOG_GROUP_NAME"), 0u);
  EXPECT_EQ(env.count("AWS_LAMBDA_LOG_STREAM_NAME"), 0u);
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "my-fn");
}

TEST_F(RuntimeCatalogTest, LaunchNodeSetsExecutionEnvAndHeapSize) {
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  const auto catalog = RuntimeCatalog::discover(paths());
  store::FunctionConfig fn = function("nodejs20.x");
  fn.memory_mb = 128;
  auto spec = catalog.launch(fn, context());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const fs::path node = dir_.path() / "toolchains/node20/bin/node";
  // AWS's heap sizing for 128 MB: semi-space 128/10/2 = 6, old space 128 - 12 = 116.
  EXPECT_EQ(spec->argv,
            (std::vector<std::string>{node.string(), "--expose-gc", "--max-http-header-size=81920",
                                      "--max-semi-space-size=6", "--max-old-space-size=116",
                                      (dir_.path() / "runtimes/node/bootstrap.cjs").string()}));
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], (dir_.path() / "runtimes/node").string());
  EXPECT_EQ(env["NODE_PATH"],
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/srv/code/abc/node_modules");
  EXPECT_EQ(env["PATH"],
            (dir_.path() / "toolchains/node20/bin").string() + ":/usr/local/bin:/usr/bin/:/bin:/opt/bin");
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
}

TEST_F(RuntimeCatalogTest, LaunchNodeLeavesHeapFlagsToNodeOptions) {
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  const auto catalog = RuntimeCatalog::discover(paths());
  store::FunctionConfig fn = function("nodejs20.x");
  fn.environment = {{"NODE_OPTIONS", "--max-old-space-size=300"}};
  auto spec = catalog.launch(fn, context());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv,
            (std::vector<std::string>{(dir_.path() / "toolchains/node20/bin/node").string(),
                                      "--expose-gc", "--max-http-header-size=81920",
                                      (dir_.path() / "runtimes/node/bootstrap.cjs").string()}));
  EXPECT_EQ(envMap(spec->env)["NODE_OPTIONS"], "--max-old-space-size=300");
}

TEST_F(RuntimeCatalogTest, LaunchPythonRunsTheBootstrapWithoutSite) {
  if (::access("/usr/bin/python3.9", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/python3.9 exists on this host and takes precedence over pyenv";
  }
  writeExecutable(dir_.path() / "pyenv/3.9.18/bin/python3.9");
  const auto catalog = RuntimeCatalog::discover(paths());
  auto spec = catalog.launch(function("python3.9"), context());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const fs::path python = dir_.path() / "pyenv/3.9.18/bin/python3.9";
  const fs::path runtime_dir = dir_.path() / "runtimes/python";
  EXPECT_EQ(spec->argv, (std::vector<std::string>{python.string(), "-S", "-s",
                                                  (runtime_dir / "bootstrap.py").string()}));
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.9");
  EXPECT_EQ(env["PYTHONPATH"], runtime_dir.string());
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], runtime_dir.string());
  EXPECT_EQ(env["PATH"], (dir_.path() / "pyenv/3.9.18/bin").string() +
                             ":/usr/local/bin:/usr/bin/:/bin:/opt/bin");
  EXPECT_EQ(env["_HANDLER"], "app.handler");
}

TEST_F(RuntimeCatalogTest, LaunchKeepsTheFunctionsOwnCredentials) {
  const auto catalog = RuntimeCatalog::discover(paths());
  store::FunctionConfig fn = function("provided");
  fn.environment = {{"AWS_ACCESS_KEY_ID", "AKIAMINE"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
  auto spec = catalog.launch(fn, context());
  ASSERT_TRUE(spec.has_value());
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_ACCESS_KEY_ID"], "AKIAMINE");
  EXPECT_EQ(env["AWS_SECRET_ACCESS_KEY"], "secret");
  EXPECT_EQ(env.count("AWS_SESSION_TOKEN"), 0u);
}

// Layers without a mount namespace: every layer path points at the merged tree on the host, and
// Python gets the layers through PYTHONPATH ahead of the SDK (the runtime's own lookup is off).
TEST_F(RuntimeCatalogTest, LaunchWithLayersInProcessModeUsesTheMergedTree) {
  if (::access("/usr/bin/python3.13", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/python3.13 exists on this host and takes precedence over pyenv";
  }
  writeExecutable(dir_.path() / "pyenv/3.13.1/bin/python3.13");
  fs::create_directories(dir_.path() / "sdk/python");
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.opt_dir = dir_.path() / "opt/abc";
  auto spec = catalog.launch(function("python3.13"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const std::string opt = ctx.opt_dir.string();
  EXPECT_TRUE(spec->view.opt_dir.empty());  // nothing to mount
  auto env = envMap(spec->env);
  EXPECT_EQ(env["PYTHONPATH"], (dir_.path() / "runtimes/python").string() + ":" + opt +
                                   "/python/lib/python3.13/site-packages:" + opt + "/python:" +
                                   (dir_.path() / "sdk/python").string());
  EXPECT_EQ(env["KINDLING_PYTHON_SDK_DIR"], "");
  EXPECT_EQ(env["PATH"], (dir_.path() / "pyenv/3.13.1/bin").string() +
                             ":/usr/local/bin:/usr/bin/:/bin:" + opt + "/bin");
  EXPECT_EQ(env["LD_LIBRARY_PATH"],
            "/lib64:/usr/lib64:/srv/code/abc:/srv/code/abc/lib:" + opt + "/lib");

  // The function's own PYTHONPATH wins, and then the runtime finds the SDK itself.
  store::FunctionConfig fn = function("python3.13");
  fn.environment = {{"PYTHONPATH", "/mine"}};
  auto own = catalog.launch(fn, ctx);
  ASSERT_TRUE(own.has_value());
  auto own_env = envMap(own->env);
  EXPECT_EQ(own_env["PYTHONPATH"], "/mine");
  EXPECT_EQ(own_env.count("KINDLING_PYTHON_SDK_DIR"), 0u);
}

// Layers in a sandbox: the merged tree is mounted at /opt, so kindling's SDK moves out of it.
TEST_F(RuntimeCatalogTest, LaunchWithLayersInASandboxMountsThemAtOpt) {
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  fs::create_directories(dir_.path() / "sdk/python");
  fs::create_directories(dir_.path() / "sdk/node/node_modules");
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.isolated = true;
  auto plain = catalog.launch(function("nodejs20.x"), ctx);
  ASSERT_TRUE(plain.has_value()) << plain.error().message();
  EXPECT_TRUE(plain->view.opt_dir.empty());
  using Binds = std::vector<std::pair<fs::path, fs::path>>;
  EXPECT_EQ(plain->view.extra_read_only, (Binds{{dir_.path() / "sdk", dir_.path() / "sdk"}}));
  EXPECT_EQ(envMap(plain->env).count("KINDLING_NODE_SDK_DIR"), 0u);

  ctx.opt_dir = dir_.path() / "opt/abc";
  auto spec = catalog.launch(function("nodejs20.x"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->view.opt_dir, ctx.opt_dir);
  EXPECT_EQ(spec->view.extra_read_only, (Binds{{dir_.path() / "sdk", "/var/kindling/sdk"}}));
  auto env = envMap(spec->env);
  EXPECT_EQ(env["NODE_PATH"],
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/task/node_modules:"
            "/var/kindling/sdk/node/node_modules");
  EXPECT_EQ(env["KINDLING_NODE_SDK_DIR"], "/var/kindling/sdk/node");
  EXPECT_EQ(env["PATH"], "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin");
  EXPECT_EQ(env["LD_LIBRARY_PATH"],
            "/var/lang/lib:/lib64:/usr/lib64:/var/task:/var/task/lib:/opt/lib");
}

// provided*: /var/task/bootstrap first, then a layer's /opt/bootstrap.
TEST_F(RuntimeCatalogTest, LaunchProvidedFindsTheBootstrapInALayer) {
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.code_dir = dir_.path() / "code";
  ctx.opt_dir = dir_.path() / "opt/abc";
  fs::create_directories(ctx.code_dir);
  writeExecutable(ctx.opt_dir / "bootstrap");
  auto spec = catalog.launch(function("provided.al2023"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, std::vector<std::string>{(ctx.opt_dir / "bootstrap").string()});
  ctx.isolated = true;
  spec = catalog.launch(function("provided.al2023"), ctx);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->argv, std::vector<std::string>{"/opt/bootstrap"});

  writeExecutable(ctx.code_dir / "bootstrap");  // the function's own wins
  spec = catalog.launch(function("provided.al2023"), ctx);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->argv, std::vector<std::string>{"/var/task/bootstrap"});
}

TEST_F(RuntimeCatalogTest, LaunchOfAnAbsentRuntimeFails) {
  const auto catalog = RuntimeCatalog::discover(paths());
  auto spec = catalog.launch(function("nodejs24.x"), context());
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code, ErrorCode::InvalidRuntime);
  auto unknown = catalog.launch(function("nope1.0"), context());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::InvalidArgument);
}

// --- Java ------------------------------------------------------------------------------

// A fake JDK (bin/java) under the fixture's jvm dir, and kindling's runtime jar when asked.
void makeJdk(const fs::path& jvm_dir, const std::string& name) {
  writeExecutable(jvm_dir / name / "bin" / "java");
}
void makeJavaRuntime(const fs::path& dir) {
  fs::create_directories(dir / "lib");
  std::ofstream(dir / "kindling-java-runtime.jar") << "jar";
}

TEST_F(RuntimeCatalogTest, DiscoversDebianAndTemurinJdksOnlyWithTheRuntimeBuilt) {
  const auto p = paths();
  makeJdk(p.jvm_dir, "java-17-openjdk-amd64");
  makeJdk(p.jvm_dir, "temurin-25-jdk-amd64");
  makeJdk(p.jvm_dir, "java-11-openjdk-amd64");
  // Without the runtime jar no Java id is offered, and the error says how to build it.
  auto catalog = RuntimeCatalog::discover(p);
  const Status missing = catalog.check("java17");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::InvalidRuntime);
  EXPECT_NE(missing.error().context.find("run scripts/setup-runtimes.sh to build kindling's Java "
                                         "runtime into " + p.java_runtime_dir.string()),
            std::string::npos)
      << missing.error().context;

  makeJavaRuntime(p.java_runtime_dir);
  catalog = RuntimeCatalog::discover(p);
  EXPECT_TRUE(catalog.check("java17").has_value());
  EXPECT_TRUE(catalog.check("java25").has_value());
  std::map<std::string, fs::path> found;
  for (const auto& rt : catalog.available()) {
    if (rt.family == "java") found[rt.id] = rt.interpreter;
  }
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found["java17"], p.jvm_dir / "java-17-openjdk-amd64" / "bin" / "java");
  EXPECT_EQ(found["java25"], p.jvm_dir / "temurin-25-jdk-amd64" / "bin" / "java");

  // java21: known to AWS, JDK absent -> names the packages to install.
  const Status absent = catalog.check("java21");
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(absent.error().context,
            "The runtime java21 is not available on this kindling host: install a Java 21 JDK "
            "under " + p.jvm_dir.string() + " (Debian's openjdk-21-jdk-headless or Temurin's "
            "temurin-21-jdk).");
  // java11 and java8.al2 are refused even with a JDK present: the runtime needs Java 17.
  for (const char* id : {"java11", "java8.al2"}) {
    const Status old = catalog.check(id);
    ASSERT_FALSE(old.has_value()) << id;
    EXPECT_EQ(old.error().code, ErrorCode::InvalidRuntime);
    EXPECT_NE(old.error().context.find("needs Java 17 or newer"), std::string::npos)
        << old.error().context;
  }
}

TEST_F(RuntimeCatalogTest, JavaHeapIsEightyFivePercentOfMemoryLeavingRoomForTheJvm) {
  // Small functions: memory - 40 MB (85 % would leave the JVM too little under the cgroup).
  EXPECT_EQ(RuntimeCatalog::javaHeapFlag(128), "-XX:MaxHeapSize=90112k");
  EXPECT_EQ(RuntimeCatalog::javaHeapFlag(256), "-XX:MaxHeapSize=221184k");
  // From 267 MB up: AWS's 85 %.
  EXPECT_EQ(RuntimeCatalog::javaHeapFlag(512), "-XX:MaxHeapSize=445644k");
  EXPECT_EQ(RuntimeCatalog::javaHeapFlag(1024), "-XX:MaxHeapSize=891289k");
  EXPECT_EQ(RuntimeCatalog::javaHeapFlag(10240), "-XX:MaxHeapSize=8912896k");
}

TEST_F(RuntimeCatalogTest, LaunchJavaUsesAwsFlagsAndTheRuntimeClasspath) {
  const auto p = paths();
  makeJdk(p.jvm_dir, "java-17-openjdk-amd64");
  makeJavaRuntime(p.java_runtime_dir);
  const auto catalog = RuntimeCatalog::discover(p);
  auto fn = function("java17");
  fn.handler = "example.Hello::handleRequest";
  fn.memory_mb = 512;
  auto spec = catalog.launch(fn, context());
  ASSERT_TRUE(spec.has_value()) << spec.error().context;
  const fs::path jdk = p.jvm_dir / "java-17-openjdk-amd64";
  const std::vector<std::string> expected = {
      (jdk / "bin/java").string(),
      "-XX:MaxHeapSize=445644k",
      "-XX:+UseSerialGC",
      "-XX:+TieredCompilation",
      "-XX:TieredStopAtLevel=1",
      "-Xshare:auto",
      "-XX:-UsePerfData",
      "-Djava.net.preferIPv4Stack=true",
      "-Dfile.encoding=UTF-8",
      "-Dstdout.encoding=UTF-8",
      "-Dstderr.encoding=UTF-8",
      "-cp",
      (p.java_runtime_dir / "kindling-java-runtime.jar").string() + ":" +
          (p.java_runtime_dir / "lib/*").string(),
      "dev.kindling.lambda.Bootstrap"};
  EXPECT_EQ(spec->argv, expected);
  const auto env = envMap(spec->env);
  EXPECT_EQ(env.at("JAVA_HOME"), jdk.string());
  EXPECT_EQ(env.at("AWS_EXECUTION_ENV"), "AWS_Lambda_java17");
  EXPECT_EQ(env.at("_HANDLER"), "example.Hello::handleRequest");
  EXPECT_EQ(env.at("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "512");
  EXPECT_EQ(env.at("PATH").rfind((jdk / "bin").string() + ":", 0), 0u) << env.at("PATH");
  EXPECT_EQ(env.count("KINDLING_OPT_DIR"), 0u);
  // The JDK stays at its host path (every sandbox shows /usr read-only): no /var/lang bind.
  EXPECT_TRUE(spec->view.lang_dir.empty());

  // Fast start: the archives are mapped where they were dumped (no relocation) and one (C1)
  // compiler thread, right after the launcher; the rest of the line is unchanged.
  auto ctx = context();
  ctx.fast_start = true;
  spec = catalog.launch(fn, ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().context;
  std::vector<std::string> fast = expected;
  fast.insert(fast.begin() + 1, {"-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0",
                                 "-XX:CICompilerCount=1"});
  EXPECT_EQ(spec->argv, fast);
}

TEST_F(RuntimeCatalogTest, FastStartNamesTheJavaZygoteOnlyInASandboxWithIt) {
  auto p = paths();
  makeJdk(p.jvm_dir, "java-17-openjdk-amd64");
  makeJavaRuntime(p.java_runtime_dir);
  const fs::path libjvm = p.jvm_dir / "java-17-openjdk-amd64/lib/server/libjvm.so";
  fs::create_directories(libjvm.parent_path());
  std::ofstream(libjvm) << "elf";
  p.java_zygote = dir_.path() / "bin/kindling-java-zygote";
  writeExecutable(p.java_zygote);
  const auto catalog = RuntimeCatalog::discover(p);
  LaunchContext ctx = context();
  ctx.isolated = true;
  ctx.fast_start = true;
  store::FunctionConfig fn = function("java17");
  auto spec = catalog.launch(fn, ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  ASSERT_TRUE(spec->zygote.has_value());
  // One zygote per JDK: it loads that JDK's libjvm and creates each environment's JVM from the
  // environment's own command line, which stays the exec'd one (also the fallback).
  EXPECT_EQ(spec->zygote->argv,
            (std::vector<std::string>{p.java_zygote.string(), libjvm.string()}));
  // Keyed by the JDK build: libjvm's path, size and time (an upgrade in place gets a new one).
  EXPECT_EQ(spec->zygote->key, "java17:" + libjvm.string() + ":" + *fileStamp(libjvm));
  const std::string before = spec->zygote->key;
  std::ofstream(libjvm, std::ios::app) << "upgraded";
  EXPECT_NE(catalog.launch(fn, ctx)->zygote->key, before);
  EXPECT_EQ(spec->argv[0], (p.jvm_dir / "java-17-openjdk-amd64/bin/java").string());
  EXPECT_EQ(spec->argv.back(), "dev.kindling.lambda.Bootstrap");
  // JAVA_TOOL_OPTIONS is the JVM's: the fork honours it.
  fn.environment["JAVA_TOOL_OPTIONS"] = "-Xss2m";
  EXPECT_TRUE(catalog.launch(fn, ctx)->zygote.has_value());
  // What the launcher or the dynamic loader reads at exec keeps the exec (the other fast-start
  // flags stay).
  for (const char* var : {"JDK_JAVA_OPTIONS", "LD_LIBRARY_PATH", "LD_PRELOAD", "MALLOC_ARENA_MAX",
                          "GLIBC_TUNABLES"}) {
    store::FunctionConfig blocked = fn;
    blocked.environment[var] = "x";
    auto exec = catalog.launch(blocked, ctx);
    ASSERT_TRUE(exec.has_value());
    EXPECT_FALSE(exec->zygote.has_value()) << var;
    EXPECT_EQ(exec->argv[1], "-XX:+UnlockDiagnosticVMOptions") << var;
    EXPECT_EQ(RuntimeCatalog::fastStartBlocker(blocked),
              std::string("environment variable ") + var + " is read at exec");
  }
  // Not without a sandbox, without the switch, without the zygote binary or without libjvm.
  ctx.isolated = false;
  EXPECT_FALSE(catalog.launch(fn, ctx)->zygote.has_value());
  ctx.isolated = true;
  ctx.fast_start = false;
  EXPECT_FALSE(catalog.launch(fn, ctx)->zygote.has_value());
  ctx.fast_start = true;
  auto no_binary = p;
  no_binary.java_zygote.clear();
  EXPECT_FALSE(RuntimeCatalog::discover(no_binary).launch(fn, ctx)->zygote.has_value());
  fs::remove(libjvm);
  EXPECT_FALSE(catalog.launch(fn, ctx)->zygote.has_value());
}

TEST_F(RuntimeCatalogTest, LaunchJavaUsesTheJdksCdsArchiveOnlyAtItsHostPath) {
  const auto p = paths();
  makeJdk(p.jvm_dir, "java-17-openjdk-amd64");
  makeJavaRuntime(p.java_runtime_dir);
  fs::create_directories(p.java_runtime_dir / "cds");
  std::ofstream(p.java_runtime_dir / "cds" / "java-17-openjdk-amd64.jsa") << "cds";
  const auto catalog = RuntimeCatalog::discover(p);
  auto spec = catalog.launch(function("java17"), context());
  ASSERT_TRUE(spec.has_value()) << spec.error().context;
  const std::string flag =
      "-XX:SharedArchiveFile=" + (p.java_runtime_dir / "cds/java-17-openjdk-amd64.jsa").string();
  auto at = std::find(spec->argv.begin(), spec->argv.end(), flag);
  ASSERT_NE(at, spec->argv.end());
  EXPECT_EQ(*(at + 1), "-Xlog:cds=off");
  EXPECT_EQ(*(at + 2), "-Xlog:cds+dynamic=off");
  EXPECT_EQ(*(at + 3), "-cp");
  EXPECT_EQ(spec->argv.back(), "dev.kindling.lambda.Bootstrap");

  // In a sandbox whose /opt holds layers the runtime moves (the archive's recorded classpath
  // would not match): no archive then.
  auto ctx = context();
  ctx.isolated = true;
  ctx.opt_dir = dir_.path() / "layers";
  fs::create_directories(ctx.opt_dir);
  spec = catalog.launch(function("java17"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().context;
  for (const auto& arg : spec->argv) EXPECT_EQ(arg.find("SharedArchiveFile"), std::string::npos);
}

TEST_F(RuntimeCatalogTest, LaunchJavaInASandboxWithLayersFindsTheRuntimeInsideTheSdkBind) {
  const auto p = paths();
  makeJdk(p.jvm_dir, "temurin-25-jdk-amd64");
  makeJavaRuntime(p.java_runtime_dir);
  const auto catalog = RuntimeCatalog::discover(p);
  auto ctx = context();
  ctx.isolated = true;
  ctx.opt_dir = dir_.path() / "layers";
  fs::create_directories(ctx.opt_dir);
  auto spec = catalog.launch(function("java25"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().context;
  const auto cp = std::find(spec->argv.begin(), spec->argv.end(), "-cp");
  ASSERT_NE(cp, spec->argv.end());
  EXPECT_EQ(*(cp + 1),
            "/var/kindling/sdk/java/kindling-java-runtime.jar:/var/kindling/sdk/java/lib/*");
  EXPECT_EQ(spec->view.opt_dir, ctx.opt_dir);
  const auto env = envMap(spec->env);
  EXPECT_EQ(env.at("LAMBDA_TASK_ROOT"), "/var/task");
  EXPECT_EQ(env.count("KINDLING_OPT_DIR"), 0u);  // layers are at /opt inside the sandbox
}

// --- Ruby ------------------------------------------------------------------------------

TEST_F(RuntimeCatalogTest, RubyIdsAreKnownAndAbsentOnesSayWhatToInstall) {
  if (::access("/usr/bin/ruby3.4", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/ruby3.4 exists on this host, so ruby3.4 is never absent";
  }
  const auto catalog = RuntimeCatalog::discover(paths());
  const Status st = catalog.check("ruby3.4");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(st.error().context,
            "The runtime ruby3.4 is not available on this kindling host: this host runs Ruby 3.1 "
            "as ruby3.1 (Debian's apt package `ruby`, installed by scripts/setup.sh); ruby3.4 "
            "needs /usr/bin/ruby3.4 or a Ruby build under " +
                (dir_.path() / "toolchains/ruby3.4/bin/ruby").string() + ".");
  // ruby3.1 is a local id: known (never InvalidArgument) whether or not Ruby is installed.
  const Status local = catalog.check("ruby3.1");
  if (::access("/usr/bin/ruby3.1", X_OK) == 0) {
    EXPECT_TRUE(local.has_value());
  } else {
    ASSERT_FALSE(local.has_value());
    EXPECT_EQ(local.error().code, ErrorCode::InvalidRuntime);
  }
  const Status unknown = catalog.check("ruby2.7");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::InvalidArgument);
}

TEST_F(RuntimeCatalogTest, LaunchRubyRunsTheBootstrapWithoutGems) {
  if (::access("/usr/bin/ruby3.3", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/ruby3.3 exists on this host and takes precedence over toolchains";
  }
  writeExecutable(dir_.path() / "toolchains/ruby3.3/bin/ruby");
  const auto catalog = RuntimeCatalog::discover(paths());
  std::map<std::string, RuntimeInfo> by_id;
  for (const auto& info : catalog.available()) by_id[info.id] = info;
  ASSERT_EQ(by_id.count("ruby3.3"), 1u);
  EXPECT_EQ(by_id["ruby3.3"].family, "ruby");
  EXPECT_EQ(by_id["ruby3.3"].interpreter, dir_.path() / "toolchains/ruby3.3/bin/ruby");

  const fs::path ruby = dir_.path() / "toolchains/ruby3.3/bin/ruby";
  const fs::path runtime_dir = dir_.path() / "runtimes/ruby";
  auto spec = catalog.launch(function("ruby3.3"), context());
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, (std::vector<std::string>{ruby.string(), "--disable-gems",
                                                  (runtime_dir / "bootstrap.rb").string()}));
  auto env = envMap(spec->env);
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_Lambda_ruby3.3");
  EXPECT_EQ(env["_HANDLER"], "app.handler");
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], runtime_dir.string());
  EXPECT_EQ(env["RUBYLIB"], "/srv/code/abc:/opt/ruby/lib");
  EXPECT_EQ(env["GEM_PATH"], "/srv/code/abc/vendor/bundle/ruby/3.3.0:/opt/ruby/gems/3.3.0");
  EXPECT_EQ(env["PATH"], (dir_.path() / "toolchains/ruby3.3/bin").string() +
                             ":/usr/local/bin:/usr/bin/:/bin:/opt/bin");
  EXPECT_EQ(env.count("KINDLING_OPT_DIR"), 0u);

  // In a sandbox: the interpreter tree is /var/lang, the bootstrap /var/runtime.
  LaunchContext ctx = context();
  ctx.isolated = true;
  spec = catalog.launch(function("ruby3.3"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, (std::vector<std::string>{"/var/lang/bin/ruby", "--disable-gems",
                                                  "/var/runtime/bootstrap.rb"}));
  EXPECT_EQ(spec->view.lang_dir, dir_.path() / "toolchains/ruby3.3");
  EXPECT_EQ(spec->view.runtime_dir, runtime_dir);
  env = envMap(spec->env);
  EXPECT_EQ(env["RUBYLIB"], "/var/task:/opt/ruby/lib");
  EXPECT_EQ(env["GEM_PATH"], "/var/task/vendor/bundle/ruby/3.3.0:/opt/ruby/gems/3.3.0");
  EXPECT_EQ(env["LD_LIBRARY_PATH"],
            "/var/lang/lib:/lib64:/usr/lib64:/var/task:/var/task/lib:/opt/lib");
}

// Layers without a mount namespace: the merged tree on the host, and the runtime is told.
TEST_F(RuntimeCatalogTest, LaunchRubyWithLayersAndTheFunctionsOwnPaths) {
  if (::access("/usr/bin/ruby3.2", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/ruby3.2 exists on this host and takes precedence over toolchains";
  }
  writeExecutable(dir_.path() / "toolchains/ruby3.2/bin/ruby");
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.opt_dir = dir_.path() / "opt/abc";
  auto spec = catalog.launch(function("ruby3.2"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  auto env = envMap(spec->env);
  const std::string opt = ctx.opt_dir.string();
  EXPECT_EQ(env["RUBYLIB"], "/srv/code/abc:" + opt + "/ruby/lib");
  EXPECT_EQ(env["GEM_PATH"],
            "/srv/code/abc/vendor/bundle/ruby/3.2.0:" + opt + "/ruby/gems/3.2.0");
  EXPECT_EQ(env["KINDLING_OPT_DIR"], opt);

  store::FunctionConfig fn = function("ruby3.2");
  fn.environment["RUBYLIB"] = "/mine/lib";
  fn.environment["GEM_PATH"] = "/mine/gems";
  spec = catalog.launch(fn, ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  env = envMap(spec->env);
  EXPECT_EQ(env["RUBYLIB"], "/mine/lib");
  EXPECT_EQ(env["GEM_PATH"], "/mine/gems");
}

// Debian's Ruby lives under /usr, which every sandbox shows: no /var/lang mount.
TEST_F(RuntimeCatalogTest, LaunchDebianRubyInASandboxKeepsUsrBin) {
  if (::access("/usr/bin/ruby3.1", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/ruby3.1 is not installed here (apt-get install ruby)";
  }
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.isolated = true;
  auto spec = catalog.launch(function("ruby3.1"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, (std::vector<std::string>{"/usr/bin/ruby3.1", "--disable-gems",
                                                  "/var/runtime/bootstrap.rb"}));
  EXPECT_TRUE(spec->view.lang_dir.empty());
  auto env = envMap(spec->env);
  EXPECT_EQ(env["GEM_PATH"], "/var/task/vendor/bundle/ruby/3.1.0:/opt/ruby/gems/3.1.0");
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_Lambda_ruby3.1");
}

// Fast start for Node: no --expose-gc (it would make V8 reject Node's built-in code cache);
// sandboxed without layers, the SDK is bound at /var/node_modules and the ESM hook is off.
TEST_F(RuntimeCatalogTest, LaunchNodeFastStart) {
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  fs::create_directories(dir_.path() / "sdk/node/node_modules");
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.isolated = true;
  ctx.fast_start = true;
  store::FunctionConfig fn = function("nodejs20.x");
  fn.memory_mb = 128;
  auto spec = catalog.launch(fn, ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->argv, (std::vector<std::string>{"/var/lang/bin/node",
                                                  "--max-http-header-size=81920",
                                                  "--max-semi-space-size=6",
                                                  "--max-old-space-size=116",
                                                  "/var/runtime/bootstrap.cjs"}));
  using Binds = std::vector<std::pair<fs::path, fs::path>>;
  EXPECT_EQ(spec->view.extra_read_only,
            (Binds{{dir_.path() / "sdk", dir_.path() / "sdk"},
                   {dir_.path() / "sdk/node/node_modules", "/var/node_modules"}}));
  EXPECT_EQ(envMap(spec->env)["KINDLING_NODE_ESM_HOOK"], "0");

  // The function's own NODE_PATH, or layers: resolution stays as without fast start.
  store::FunctionConfig own_path = fn;
  own_path.environment = {{"NODE_PATH", "/var/task/lib"}};
  auto with_path = catalog.launch(own_path, ctx);
  ASSERT_TRUE(with_path.has_value()) << with_path.error().message();
  EXPECT_EQ(with_path->view.extra_read_only, (Binds{{dir_.path() / "sdk", dir_.path() / "sdk"}}));
  EXPECT_EQ(envMap(with_path->env).count("KINDLING_NODE_ESM_HOOK"), 0u);
  LaunchContext layered = ctx;
  layered.opt_dir = dir_.path() / "opt/abc";
  auto with_layers = catalog.launch(fn, layered);
  ASSERT_TRUE(with_layers.has_value()) << with_layers.error().message();
  EXPECT_EQ(with_layers->view.extra_read_only,
            (Binds{{dir_.path() / "sdk", "/var/kindling/sdk"}}));
  EXPECT_EQ(envMap(with_layers->env).count("KINDLING_NODE_ESM_HOOK"), 0u);
  EXPECT_EQ(with_layers->argv[1], "--max-http-header-size=81920");

  // Fast start off (daemon flag off or tag kindling:fast-start=false): AWS's command line.
  ctx.fast_start = false;
  auto off = catalog.launch(fn, ctx);
  ASSERT_TRUE(off.has_value()) << off.error().message();
  EXPECT_EQ(off->argv[1], "--expose-gc");
  EXPECT_EQ(off->view.extra_read_only, (Binds{{dir_.path() / "sdk", dir_.path() / "sdk"}}));
  EXPECT_EQ(envMap(off->env).count("KINDLING_NODE_ESM_HOOK"), 0u);
}

TEST_F(RuntimeCatalogTest, FastStartNamesThePythonZygoteOnlyInASandbox) {
  if (::access("/usr/bin/python3.9", X_OK) == 0) {
    GTEST_SKIP() << "/usr/bin/python3.9 exists on this host and takes precedence over pyenv";
  }
  writeExecutable(dir_.path() / "pyenv/3.9.18/bin/python3.9");
  writeExecutable(dir_.path() / "toolchains/node20/bin/node");
  const auto catalog = RuntimeCatalog::discover(paths());
  LaunchContext ctx = context();
  ctx.isolated = true;
  ctx.fast_start = true;
  auto spec = catalog.launch(function("python3.9"), ctx);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  ASSERT_TRUE(spec->zygote.has_value());
  const fs::path python = dir_.path() / "pyenv/3.9.18/bin/python3.9";
  // The zygote runs the host interpreter with the environments' flags; it remaps the pyenv
  // tree (the environments' /var/lang) itself.
  EXPECT_EQ(spec->zygote->argv,
            (std::vector<std::string>{python.string(), "-S", "-s",
                                      (dir_.path() / "runtimes/python/zygote.py").string()}));
  auto zenv = envMap(spec->zygote->env);
  EXPECT_EQ(zenv["KINDLING_ZYGOTE_LANG_DIR"], (dir_.path() / "pyenv/3.9.18").string());
  EXPECT_EQ(zenv["LANG"], "en_US.UTF-8");
  EXPECT_EQ(spec->zygote->key, "python3.9:" + python.string() + ":LANG=en_US.UTF-8");
  // The exec'd command stays what it was (the fallback).
  EXPECT_EQ(spec->argv[0], "/var/lang/bin/python3.9");
  // A function's own LANG gets a zygote of its own.
  store::FunctionConfig fn = function("python3.9");
  fn.environment["LANG"] = "C.UTF-8";
  auto other = catalog.launch(fn, ctx);
  ASSERT_TRUE(other.has_value() && other->zygote.has_value());
  EXPECT_NE(other->zygote->key, spec->zygote->key);
  // Not without a sandbox, not without the switch, not for other runtimes, not when the
  // interpreter reads a start-up variable.
  ctx.isolated = false;
  EXPECT_FALSE(catalog.launch(function("python3.9"), ctx)->zygote.has_value());
  ctx.isolated = true;
  ctx.fast_start = false;
  EXPECT_FALSE(catalog.launch(function("python3.9"), ctx)->zygote.has_value());
  ctx.fast_start = true;
  EXPECT_FALSE(catalog.launch(function("nodejs20.x"), ctx)->zygote.has_value());
  fn.environment["PYTHONHASHSEED"] = "0";
  EXPECT_FALSE(catalog.launch(fn, ctx)->zygote.has_value());
  EXPECT_EQ(RuntimeCatalog::fastStartBlocker(fn),
            "environment variable PYTHONHASHSEED is read by the interpreter at start-up");
  fn.environment.erase("PYTHONHASHSEED");
  fn.environment["PYTHONPATH"] = "/var/task/lib";  // applied by the forked runtime itself
  EXPECT_EQ(RuntimeCatalog::fastStartBlocker(fn), "");
}

}  // namespace
}  // namespace kindling::scheduler
