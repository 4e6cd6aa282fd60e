// RuntimeCatalog: discovery against fake toolchain/pyenv trees in a temp dir, the two kinds of
// check() errors, and the process environment launch() builds.
#include "scheduler/runtime_catalog.h"

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
  const Status st = catalog.check("java21");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::InvalidRuntime);
  EXPECT_EQ(st.error().context,
            "The runtime java21 is not available on this kindling host: this runtime is not "
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

}  // namespace
}  // namespace kindling::scheduler
