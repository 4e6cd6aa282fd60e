#include "scheduler/runtime_catalog.h"

#include <algorithm>
#include <unistd.h>

#include "common/strings.h"

namespace kindling::scheduler {

namespace fs = std::filesystem;

namespace {

// Where kindling's SDK tree is bound inside a sandbox whose /opt holds the function's layers.
constexpr std::string_view kSdkInside = "/var/kindling/sdk";

bool isExecutable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// Every runtime id AWS lists today, so unknown ids and absent interpreters get different errors.
constexpr std::string_view kAwsRuntimeIds[] = {
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "python3.9",  "python3.10",
    "python3.11", "python3.12", "python3.13", "python3.14", "java8.al2",  "java11",
    "java17",     "java21",     "java25",     "dotnet8",    "dotnet10",   "ruby3.2",
    "ruby3.3",    "ruby3.4",    "provided",   "provided.al2", "provided.al2023"};

// Integer triple of a "3.11.7" directory name, for picking the newest patch release.
std::vector<int> versionKey(const std::string& name) {
  std::vector<int> key;
  for (auto part : split(name, '.')) key.push_back(std::atoi(std::string(part).c_str()));
  return key;
}

}  // namespace

RuntimeCatalog RuntimeCatalog::discover(const Paths& paths) {
  RuntimeCatalog catalog;
  catalog.paths_ = paths;
  for (auto id : {"provided", "provided.al2", "provided.al2023"}) {
    catalog.runtimes_[id] = RuntimeInfo{id, "provided", {}};
  }
  // Python: Debian's own interpreter first (starts fastest), then pyenv's real binaries.
  for (int minor = 9; minor <= 14; ++minor) {
    const std::string id = "python3." + std::to_string(minor);
    const std::string exe = "python3." + std::to_string(minor);
    fs::path found;
    if (isExecutable(fs::path("/usr/bin") / exe)) found = fs::path("/usr/bin") / exe;
    std::error_code ec;
    if (found.empty() && fs::is_directory(paths.pyenv_versions_dir, ec)) {
      std::vector<std::string> candidates;
      for (const auto& entry : fs::directory_iterator(paths.pyenv_versions_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (startsWith(name, "3." + std::to_string(minor) + ".") &&
            isExecutable(entry.path() / "bin" / exe)) {
          candidates.push_back(name);
        }
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const auto& a, const auto& b) { return versionKey(a) < versionKey(b); });
      if (!candidates.empty()) found = paths.pyenv_versions_dir / candidates.back() / "bin" / exe;
    }
    if (!found.empty()) catalog.runtimes_[id] = RuntimeInfo{id, "python", found};
  }
  // Node: the official binaries from the npm registry (setup-runtimes.sh).
  for (int major : {18, 20, 22, 24}) {
    const std::string id = "nodejs" + std::to_string(major) + ".x";
    fs::path exe = paths.toolchains_dir / ("node" + std::to_string(major)) / "bin" / "node";
    if (isExecutable(exe)) catalog.runtimes_[id] = RuntimeInfo{id, "nodejs", exe};
  }
  return catalog;
}

std::vector<RuntimeInfo> RuntimeCatalog::available() const {
  std::vector<RuntimeInfo> out;
  for (const auto& [id, info] : runtimes_) out.push_back(info);
  return out;
}

Status RuntimeCatalog::check(std::string_view runtime) const {
  if (runtimes_.count(runtime)) return {};
  const bool known = std::find(std::begin(kAwsRuntimeIds), std::end(kAwsRuntimeIds), runtime) !=
                     std::end(kAwsRuntimeIds);
  if (!known) {
    return makeError(ErrorCode::InvalidArgument,
                     "Value " + std::string(runtime) +
                         " at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                         "value set of Lambda runtime identifiers");
  }
  std::string hint;
  if (startsWith(runtime, "python3.")) {
    hint = "install " + std::string(runtime.substr(0, 6)) + std::string(runtime.substr(6)) +
           " (Debian's /usr/bin/" + std::string(runtime) + " or a pyenv build under " +
           paths_.pyenv_versions_dir.string() + ")";
  } else if (startsWith(runtime, "nodejs")) {
    hint = "run scripts/setup-runtimes.sh to install the official Node binary under " +
           paths_.toolchains_dir.string();
  } else {
    hint = "this runtime is not supported by kindling on this host yet";
  }
  return makeError(ErrorCode::InvalidRuntime,
                   "The runtime " + std::string(runtime) +
                       " is not available on this kindling host: " + hint + ".");
}

Result<sandbox::SpawnSpec> RuntimeCatalog::launch(const store::FunctionConfig& fn,
                                                  const LaunchContext& ctx) const {
  auto it = runtimes_.find(fn.runtime);
  if (it == runtimes_.end()) {
    auto st = check(fn.runtime);
    return tl::unexpected(std::move(st.error()));
  }
  const RuntimeInfo& rt = it->second;
  sandbox::SpawnSpec spec;
  spec.memory_mb = fn.memory_mb;
  spec.ephemeral_storage_mb = fn.ephemeral_storage_mb;
  spec.view.task_root = ctx.code_dir;
  // Paths as the runtime sees them: the host's, or the sandbox's own root.
  const fs::path task_root = ctx.isolated ? fs::path("/var/task") : ctx.code_dir;
  auto runtimeDir = [&](const char* lang) {
    spec.view.runtime_dir = paths_.runtimes_dir / lang;
    return ctx.isolated ? fs::path("/var/runtime") : spec.view.runtime_dir;
  };
  auto interpreter = [&]() {
    // Interpreters outside /usr (pyenv's, the official Node builds) are mounted at /var/lang.
    if (!ctx.isolated || startsWith(rt.interpreter.string(), "/usr/")) return rt.interpreter;
    spec.view.lang_dir = rt.interpreter.parent_path().parent_path();
    return fs::path("/var/lang/bin") / rt.interpreter.filename();
  };
  // Layers: the merged tree is /opt inside the sandbox; without a mount namespace the runtime
  // is pointed at the host directory itself. A function without layers sees an empty /opt.
  const bool has_layers = !ctx.opt_dir.empty();
  const fs::path opt = has_layers && !ctx.isolated ? ctx.opt_dir : fs::path("/opt");
  if (ctx.isolated && has_layers) spec.view.opt_dir = ctx.opt_dir;
  // kindling's SDK tree (/opt/kindling/sdk on the host). Inside a sandbox it is bound at the
  // same path, unless /opt holds the function's layers: then it moves to kSdkInside and the
  // runtimes are told through KINDLING_{PYTHON,NODE}_SDK_DIR.
  fs::path python_sdk = paths_.python_sdk_dir;
  fs::path node_sdk = paths_.node_sdk_dir;
  if (ctx.isolated) {
    const fs::path sdk_root = paths_.python_sdk_dir.parent_path();  // /opt/kindling/sdk
    std::error_code ec;
    if (fs::is_directory(sdk_root, ec)) {
      const fs::path inside = has_layers ? fs::path(kSdkInside) : sdk_root;
      spec.view.extra_read_only.emplace_back(sdk_root, inside);
      python_sdk = inside / paths_.python_sdk_dir.lexically_relative(sdk_root);
      const fs::path node_relative = paths_.node_sdk_dir.lexically_relative(sdk_root);
      if (!node_relative.empty() && *node_relative.begin() != "..") {
        node_sdk = inside / node_relative;
      }
    }
  }
  spec.cwd = task_root;

  // AWS's PATH and LD_LIBRARY_PATH end with the layers' bin and lib directories.
  std::string path = "/usr/local/bin:/usr/bin/:/bin:" + (opt / "bin").string();
  std::string ld_library_path = "/lib64:/usr/lib64:" + task_root.string() + ":" +
                                task_root.string() + "/lib:" + (opt / "lib").string();
  std::vector<std::string> extra;
  if (rt.family == "provided") {
    // Bootstrap discovery as on Lambda: /var/task/bootstrap, else a layer's /opt/bootstrap.
    fs::path bootstrap = task_root / "bootstrap";
    if (has_layers && !isExecutable(ctx.code_dir / "bootstrap") &&
        isExecutable(ctx.opt_dir / "bootstrap")) {
      bootstrap = opt / "bootstrap";
    }
    spec.argv = {bootstrap.string()};
  } else if (rt.family == "python") {
    const fs::path dir = runtimeDir("python");
    const fs::path exe = interpreter();
    // -S -s: no site module and no user site-packages (measured: the largest start-up saving);
    // the runtime adds the task root, layers and the SDK directory to sys.path itself. -E is
    // not used so a function's own PYTHONPATH works, as on AWS.
    spec.argv = {exe.string(), "-S", "-s", (dir / "bootstrap.py").string()};
    path = exe.parent_path().string() + ":" + path;
    std::string python_path = dir.string();
    if (has_layers && !ctx.isolated) {
      // The runtime looks for layers under /opt/python itself; outside a sandbox they are
      // elsewhere, so they come through PYTHONPATH, ahead of the SDK as on Lambda (layers
      // before /var/runtime): the runtime's own SDK lookup is switched off and the SDK listed
      // after the layers.
      const std::string minor = fn.runtime.substr(std::string_view("python").size());
      python_path += ":" + (opt / "python/lib" / ("python" + minor) / "site-packages").string() +
                     ":" + (opt / "python").string();
      std::error_code ec;
      const fs::path versioned = python_sdk.string() + minor;
      if (fs::is_directory(versioned, ec)) {
        python_path += ":" + versioned.string();
      } else if (fs::is_directory(python_sdk, ec)) {
        python_path += ":" + python_sdk.string();
      }
      extra.push_back("KINDLING_PYTHON_SDK_DIR=");
    } else if (python_sdk != paths_.python_sdk_dir) {
      extra.push_back("KINDLING_PYTHON_SDK_DIR=" + python_sdk.string());
    }
    extra.push_back("PYTHONPATH=" + python_path);
    extra.push_back("LAMBDA_RUNTIME_DIR=" + dir.string());
  } else if (rt.family == "nodejs") {
    const fs::path dir = runtimeDir("node");
    const fs::path exe = interpreter();
    spec.argv = {exe.string(), "--expose-gc", "--max-http-header-size=81920"};
    // Heap sized from the function's memory as AWS's Node runtime does: semi-space = M/10/2,
    // old space = M - M/10 (128 MB -> 6 and 116), unless NODE_OPTIONS already sets either.
    const auto node_options = fn.environment.find("NODE_OPTIONS");
    const bool user_heap =
        node_options != fn.environment.end() &&
        (node_options->second.find("semi-space") != std::string::npos ||
         node_options->second.find("semi_space") != std::string::npos ||
         node_options->second.find("old-space") != std::string::npos ||
         node_options->second.find("old_space") != std::string::npos);
    if (!user_heap) {
      const int m = fn.memory_mb;
      spec.argv.push_back("--max-semi-space-size=" + std::to_string(std::max(1, m / 10 / 2)));
      spec.argv.push_back("--max-old-space-size=" + std::to_string(m - m / 10));
    }
    spec.argv.push_back((dir / "bootstrap.cjs").string());
    path = exe.parent_path().string() + ":" + path;
    // AWS's NODE_PATH: the layers' version-specific and shared node_modules, then the rest.
    const std::string major = fn.runtime.substr(std::string_view("nodejs").size(),
                                                fn.runtime.find('.') - std::string_view("nodejs").size());
    std::string node_path = (opt / "nodejs" / ("node" + major) / "node_modules").string() + ":" +
                            (opt / "nodejs/node_modules").string() + ":" + task_root.string() +
                            "/node_modules";
    if (fs::exists(paths_.node_sdk_dir)) node_path += ":" + node_sdk.string();
    if (node_sdk != paths_.node_sdk_dir) {
      extra.push_back("KINDLING_NODE_SDK_DIR=" + node_sdk.parent_path().string());
    }
    extra.push_back("NODE_PATH=" + node_path);
    // Without a mount namespace the layers are not at /opt: tell the ES-module resolve hook.
    if (opt != "/opt") extra.push_back("KINDLING_OPT_DIR=" + opt.string());
    extra.push_back("LAMBDA_RUNTIME_DIR=" + dir.string());
  }

  // AWS's order: the interpreter's own libraries first (pyenv builds find libpython through
  // it: their RUNPATH names the host path, which the sandbox does not show).
  if (!spec.view.lang_dir.empty()) ld_library_path = "/var/lang/lib:" + ld_library_path;
  std::map<std::string, std::string> env;
  // The function's own variables first; the platform's reserved ones override them.
  for (const auto& [k, v] : fn.environment) env[k] = v;
  env["PATH"] = env.count("PATH") ? env["PATH"] : path;
  env["LD_LIBRARY_PATH"] = env.count("LD_LIBRARY_PATH") ? env["LD_LIBRARY_PATH"] : ld_library_path;
  env["LANG"] = env.count("LANG") ? env["LANG"] : "en_US.UTF-8";
  env["TZ"] = env.count("TZ") ? env["TZ"] : ":UTC";
  env["AWS_LAMBDA_RUNTIME_API"] = ctx.runtime_api_host + ":" + std::to_string(ctx.runtime_api_port);
  env["_HANDLER"] = fn.handler;
  env["LAMBDA_TASK_ROOT"] = task_root.string();
  env["AWS_LAMBDA_FUNCTION_NAME"] = fn.name;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = fn.version;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(fn.memory_mb);
  env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + fn.name;
  env["AWS_LAMBDA_LOG_STREAM_NAME"] = ctx.log_stream_name;
  env["AWS_REGION"] = ctx.region;
  env["AWS_DEFAULT_REGION"] = ctx.region;
  env["AWS_LAMBDA_INITIALIZATION_TYPE"] = ctx.initialization_type;
  if (rt.family != "provided") env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + fn.runtime;
  // Execution-role credentials: kindling has no IAM; functions get placeholder keys unless the
  // function's configuration provides its own.
  if (!fn.environment.count("AWS_ACCESS_KEY_ID")) {
    env["AWS_ACCESS_KEY_ID"] = "AKIAKINDLINGLOCAL000";
    env["AWS_SECRET_ACCESS_KEY"] = "kindling-local-secret-access-key";
    env["AWS_SESSION_TOKEN"] = "kindling-local-session-token";
  }
  for (const auto& kv : extra) {
    const auto eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    // A function's own PYTHONPATH / NODE_PATH wins, as on AWS; the runtime directory is ours.
    if ((key == "PYTHONPATH" || key == "NODE_PATH") && fn.environment.count(key)) continue;
    // With its own PYTHONPATH, the runtime's SDK lookup stays on.
    if (key == "KINDLING_PYTHON_SDK_DIR" && eq + 1 == kv.size() &&
        fn.environment.count("PYTHONPATH")) {
      continue;
    }
    env[key] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);
  return spec;
}

}  // namespace kindling::scheduler
