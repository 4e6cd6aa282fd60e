#include "scheduler/runtime_catalog.h"

#include <algorithm>
#include <unistd.h>

#include "common/strings.h"
#include "scheduler/launch_files.h"

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

// Ids this machine hosts that AWS no longer lists: Debian 12's Ruby is 3.1.
constexpr std::string_view kLocalRuntimeIds[] = {"ruby3.1"};

// Integer triple of a "3.11.7" directory name, for picking the newest patch release.
std::vector<int> versionKey(const std::string& name) {
  std::vector<int> key;
  for (auto part : split(name, '.')) key.push_back(std::atoi(std::string(part).c_str()));
  return key;
}

// kindling's Java runtime jar inside Paths::java_runtime_dir (next to lib/*.jar).
constexpr std::string_view kJavaRuntimeJar = "kindling-java-runtime.jar";

// Java runtime ids kindling can host: its runtime is compiled for Java 17 (javac --release 17),
// so java8.al2 and java11 stay refused even where such a JDK exists.
constexpr int kJavaMajors[] = {17, 21, 25};

// The JDK of one Java major under jvm_dir: Debian's java-<N>-openjdk-<arch> first (it is the
// machine's own), then Temurin's temurin-<N>-jdk-<arch>. Empty when neither has bin/java.
fs::path findJdk(const fs::path& jvm_dir, int major) {
  std::error_code ec;
  if (!fs::is_directory(jvm_dir, ec)) return {};
  const std::string debian = "java-" + std::to_string(major) + "-openjdk-";
  const std::string temurin = "temurin-" + std::to_string(major) + "-jdk";
  std::vector<std::string> debian_dirs, temurin_dirs;
  for (const auto& entry : fs::directory_iterator(jvm_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!isExecutable(entry.path() / "bin" / "java")) continue;
    if (startsWith(name, debian)) debian_dirs.push_back(name);
    if (startsWith(name, temurin)) temurin_dirs.push_back(name);
  }
  std::sort(debian_dirs.begin(), debian_dirs.end());
  std::sort(temurin_dirs.begin(), temurin_dirs.end());
  if (!debian_dirs.empty()) return jvm_dir / debian_dirs.front();
  if (!temurin_dirs.empty()) return jvm_dir / temurin_dirs.front();
  return {};
}

}  // namespace

std::string RuntimeCatalog::javaHeapFlag(int memory_mb) {
  // AWS's Java runtimes give the heap about 85 % of the function's memory. Here the memory
  // cgroup is a hard limit on everything the JVM touches, and its non-heap memory (metaspace,
  // code cache, GC tables, thread stacks, the runtime) measured ~26 MB with kindling's runtime:
  // at 128 MB an 85 % heap filled with garbage before a full GC got the JVM OOM-killed. So at
  // least kJavaNonHeapMb stays out of the heap (128 MB -> 88 MB heap; 85 % from 267 MB up).
  constexpr int64_t kJavaNonHeapMb = 40;
  const int64_t mb = memory_mb;
  const int64_t kib = std::max<int64_t>(
      std::min<int64_t>(mb * 1024 * 85 / 100, (mb - kJavaNonHeapMb) * 1024), mb * 1024 / 2);
  return "-XX:MaxHeapSize=" + std::to_string(kib) + "k";
}

std::string RuntimeCatalog::fastStartBlocker(const store::FunctionConfig& fn) {
  const bool ruby = startsWith(fn.runtime, "ruby");
  const bool java = startsWith(fn.runtime, "java");
  for (const auto& [key, value] : fn.environment) {
    if (ruby) {
      // Ruby reads RUBYOPT (switches, -r requires, --enable-gems), RUBY_GC_* and
      // RUBY_*_STACK_SIZE when the VM boots, and the dynamic loader and malloc read LD_PRELOAD
      // (jemalloc is a common one), GLIBC_TUNABLES and MALLOC_* at exec: a fork of the zygote
      // would silently ignore them. RUBYLIB is rebuilt in the fork; GEM_* are read by
      // RubyGems, which the runtime loads at init (inside the environment) either way.
      if ((startsWith(key, "RUBY") && key != "RUBYLIB") || key == "LD_PRELOAD" ||
          key == "GLIBC_TUNABLES" || startsWith(key, "MALLOC_")) {
        return "environment variable " + key + " is read by the interpreter at start-up";
      }
    } else if (java) {
      // The launcher reads JDK_JAVA_OPTIONS (and expands it into its command line); the
      // dynamic loader and malloc read LD_* (LD_LIBRARY_PATH too: its search list is fixed at
      // exec), GLIBC_TUNABLES and MALLOC_* at exec. JAVA_TOOL_OPTIONS and _JAVA_OPTIONS are
      // read by the JVM itself when the zygote's fork creates it, and so are honoured.
      if (key == "JDK_JAVA_OPTIONS" || startsWith(key, "LD_") || key == "GLIBC_TUNABLES" ||
          startsWith(key, "MALLOC_")) {
        return "environment variable " + key + " is read at exec";
      }
    } else if (startsWith(key, "PYTHON") && key != "PYTHONPATH") {
      return "environment variable " + key + " is read by the interpreter at start-up";
    }
  }
  return {};
}

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
    // kindling's own link of a pyenv interpreter (setup-runtimes.sh: the same CPython, linked
    // statically instead of against libpython.so): before pyenv's, after Debian's.
    const fs::path linked = paths.toolchains_dir / exe / "bin" / exe;
    if (found.empty() && isExecutable(linked)) found = linked;
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
  // Ruby: Debian's /usr/bin/ruby3.1 (apt `ruby`), or a ruby build under the toolchains dir.
  for (int minor = 1; minor <= 4; ++minor) {
    const std::string id = "ruby3." + std::to_string(minor);
    fs::path exe = fs::path("/usr/bin") / id;
    if (!isExecutable(exe)) exe = paths.toolchains_dir / id / "bin" / "ruby";
    if (isExecutable(exe)) catalog.runtimes_[id] = RuntimeInfo{id, "ruby", exe};
  }
  // Java: a JDK of the id's major plus kindling's Java runtime (built by setup-runtimes.sh).
  std::error_code java_ec;
  if (fs::is_regular_file(paths.java_runtime_dir / kJavaRuntimeJar, java_ec)) {
    for (int major : kJavaMajors) {
      const fs::path jdk = findJdk(paths.jvm_dir, major);
      if (jdk.empty()) continue;
      const std::string id = "java" + std::to_string(major);
      catalog.runtimes_[id] = RuntimeInfo{id, "java", jdk / "bin" / "java"};
    }
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
                         std::end(kAwsRuntimeIds) ||
                     std::find(std::begin(kLocalRuntimeIds), std::end(kLocalRuntimeIds),
                               runtime) != std::end(kLocalRuntimeIds);
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
  } else if (startsWith(runtime, "ruby")) {
    hint = "this host runs Ruby 3.1 as ruby3.1 (Debian's apt package `ruby`, installed by "
           "scripts/setup.sh); " + std::string(runtime) + " needs /usr/bin/" +
           std::string(runtime) + " or a Ruby build under " +
           (paths_.toolchains_dir / runtime / "bin/ruby").string();
  } else if (startsWith(runtime, "java")) {
    // "java17" -> "17", "java8.al2" -> "8" (find() == npos keeps the rest: substr clamps).
    const std::string major(runtime.substr(4, runtime.find('.') - 4));
    const bool hostable = std::find(std::begin(kJavaMajors), std::end(kJavaMajors),
                                    std::atoi(major.c_str())) != std::end(kJavaMajors);
    if (!hostable) {
      hint = "kindling's Java runtime needs Java 17 or newer (java17, java21, java25)";
    } else if (findJdk(paths_.jvm_dir, std::atoi(major.c_str())).empty()) {
      hint = "install a Java " + major + " JDK under " + paths_.jvm_dir.string() +
             " (Debian's openjdk-" + major + "-jdk-headless or Temurin's temurin-" + major +
             "-jdk)";
    } else {
      hint = "run scripts/setup-runtimes.sh to build kindling's Java runtime into " +
             paths_.java_runtime_dir.string();
    }
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
  fs::path java_runtime = paths_.java_runtime_dir;
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
      const fs::path java_relative = paths_.java_runtime_dir.lexically_relative(sdk_root);
      if (!java_relative.empty() && *java_relative.begin() != "..") {
        java_runtime = inside / java_relative;
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
    if (ctx.fast_start && ctx.isolated && fastStartBlocker(fn).empty()) {
      // The runtime's zygote (runtimes/python/zygote.py) runs the host interpreter with the
      // same flags; the forked environment remaps the host interpreter dir to /var/lang.
      sandbox::ZygoteSpec zygote;
      // The interpreter decides its locale (PEP 538 coercion) from LANG at start-up: a zygote
      // per LANG value (the default for almost every function).
      const auto lang = fn.environment.find("LANG");
      const std::string lang_value = lang != fn.environment.end() ? lang->second : "en_US.UTF-8";
      zygote.key = fn.runtime + ":" + rt.interpreter.string() + ":LANG=" + lang_value;
      zygote.argv = {rt.interpreter.string(), "-S", "-s",
                     (spec.view.runtime_dir / "zygote.py").string()};
      zygote.env = {"PATH=" + rt.interpreter.parent_path().string() + ":/usr/bin:/bin",
                    "LANG=" + lang_value,
                    "KINDLING_ZYGOTE_LANG_DIR=" + spec.view.lang_dir.string()};
      spec.zygote = std::move(zygote);
    }
  } else if (rt.family == "nodejs") {
    const fs::path dir = runtimeDir("node");
    const fs::path exe = interpreter();
    // Fast start (docs/runtimes.md, "Node.js fast start"): no --expose-gc. Every V8 flag
    // changes V8's flag hash, so V8 rejects the code cache Node embeds for its built-in modules
    // and compiles each from source (~8 ms of CPU per start, measured); the bootstrap defines
    // the global gc() itself. The heap flags stay (AWS's sizing); Node 24 leaves them out of
    // the hash, Node 20/22 still pay for them.
    if (ctx.fast_start) {
      spec.argv = {exe.string(), "--max-http-header-size=81920"};
    } else {
      spec.argv = {exe.string(), "--expose-gc", "--max-http-header-size=81920"};
    }
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
    // Fast start, sandboxed, no layers, no NODE_PATH of the function's own: the SDK is bound
    // at /var/node_modules, where ES module resolution from /var/task finds it by itself
    // (after the function's own node_modules, as with the hook), so the bootstrap registers
    // no resolve hook: on Node 20 that hook runs on a loader thread (~45 ms CPU per start of an
    // ES module handler). require() resolves as before: NODE_PATH holds nothing else.
    std::error_code sdk_ec;
    if (ctx.fast_start && ctx.isolated && !has_layers && !fn.environment.count("NODE_PATH") &&
        fs::is_directory(paths_.node_sdk_dir, sdk_ec)) {
      spec.view.extra_read_only.emplace_back(paths_.node_sdk_dir, "/var/node_modules");
      extra.push_back("KINDLING_NODE_ESM_HOOK=0");
    }
    if (node_sdk != paths_.node_sdk_dir) {
      extra.push_back("KINDLING_NODE_SDK_DIR=" + node_sdk.parent_path().string());
    }
    extra.push_back("NODE_PATH=" + node_path);
    // Without a mount namespace the layers are not at /opt: tell the ES-module resolve hook.
    if (opt != "/opt") extra.push_back("KINDLING_OPT_DIR=" + opt.string());
    extra.push_back("LAMBDA_RUNTIME_DIR=" + dir.string());
  } else if (rt.family == "ruby") {
    const fs::path dir = runtimeDir("ruby");
    const fs::path exe = interpreter();
    // --disable-gems: RubyGems is most of Ruby's start-up (measured ~45 of ~70 ms); the
    // bootstrap loads it when the function brings gems or a require needs it.
    spec.argv = {exe.string(), "--disable-gems", (dir / "bootstrap.rb").string()};
    path = exe.parent_path().string() + ":" + path;
    // AWS's RUBYLIB and GEM_PATH: the task root and the layers' ruby/lib; bundled gems in
    // vendor/bundle, then the layers' ruby/gems.
    const std::string abi = fn.runtime.substr(std::string_view("ruby").size()) + ".0";
    extra.push_back("RUBYLIB=" + task_root.string() + ":" + (opt / "ruby/lib").string());
    extra.push_back("GEM_PATH=" + (task_root / "vendor/bundle/ruby" / abi).string() + ":" +
                    (opt / "ruby/gems" / abi).string());
    if (opt != "/opt") extra.push_back("KINDLING_OPT_DIR=" + opt.string());
    extra.push_back("LAMBDA_RUNTIME_DIR=" + dir.string());
    if (ctx.fast_start && ctx.isolated && fastStartBlocker(fn).empty()) {
      // The runtime's zygote (runtimes/ruby/zygote.rb) runs the host interpreter with the same
      // flags; the fork rebuilds $LOAD_PATH from the function's RUBYLIB and remaps a Ruby
      // outside /usr to /var/lang. The VM picks its default external encoding from the locale
      // variables at boot: one zygote per value of them (LANG only, for almost every function).
      sandbox::ZygoteSpec zygote;
      zygote.key = fn.runtime + ":" + rt.interpreter.string();
      zygote.env = {"PATH=" + rt.interpreter.parent_path().string() + ":/usr/bin:/bin",
                    "KINDLING_ZYGOTE_LANG_DIR=" + spec.view.lang_dir.string()};
      for (const char* name : {"LANG", "LC_ALL", "LC_CTYPE"}) {
        const auto it = fn.environment.find(name);
        if (it == fn.environment.end() && std::string_view(name) != "LANG") continue;
        const std::string value = it != fn.environment.end() ? it->second : "en_US.UTF-8";
        zygote.key += std::string(":") + name + "=" + value;
        zygote.env.push_back(std::string(name) + "=" + value);
      }
      zygote.argv = {rt.interpreter.string(), "--disable-gems",
                     (spec.view.runtime_dir / "zygote.rb").string()};
      spec.zygote = std::move(zygote);
    }
  } else if (rt.family == "java") {
    // The JDK lives under /usr/lib/jvm, which every sandbox shows read-only at the same path
    // (its conf/ and cacerts symlinks into /etc resolve there too), so it is not moved to
    // /var/lang. Flags as AWS's Java runtime: heap from the function's memory (a JVM sizing
    // its heap from host RAM grows past the memory cgroup and is OOM-killed), serial GC,
    // C1 only, class data sharing, IPv4; no hsperfdata file in /tmp (-XX:-UsePerfData). A
    // user's JAVA_TOOL_OPTIONS is read by the JVM itself. Measured in docs (cold start, hello).
    const fs::path exe = rt.interpreter;
    spec.argv = {exe.string(),
                 javaHeapFlag(fn.memory_mb),
                 "-XX:+UseSerialGC",
                 "-XX:+TieredCompilation",
                 "-XX:TieredStopAtLevel=1",
                 "-Xshare:auto",
                 "-XX:-UsePerfData",
                 "-Djava.net.preferIPv4Stack=true",
                 // UTF-8 text and stdout as on AWS: this host has no en_US.UTF-8 locale, so a
                 // JVM would fall back to US-ASCII ('?' for every non-ASCII character logged).
                 "-Dfile.encoding=UTF-8",
                 "-Dstdout.encoding=UTF-8",
                 "-Dstderr.encoding=UTF-8",
                 "-cp",
                 (java_runtime / kJavaRuntimeJar).string() + ":" +
                     (java_runtime / "lib/*").string(),
                 "dev.kindling.lambda.Bootstrap"};
    // Fast start: class-data archives mapped where they were dumped. These JDKs (17.0.15, 25)
    // default to ArchiveRelocationMode=1, which maps the archives at a random address and then
    // rewrites every pointer in them: ~35 ms of a java17 cold start here ("Genesis" 43 -> 1.7
    // ms, -Xlog:startuptime), and each environment's own copy of ~20 MB of pages that mode 0
    // shares read-only with every other environment. The cost is the randomisation of the
    // archives' address (mode 0 was the JDKs' default until JDK 20; it still falls back to
    // relocating when that address is taken). docs/runtimes.md "Java fast start".
    // And one compiler thread: JDK 17 runs two C1 threads on 2 CPUs (CICompilerCount=2), whose
    // compiles compete with the init for the environment's CPU quota (JDK 25 picks one by
    // itself with TieredStopAtLevel=1): java17 hello cold Init 71.8 -> 65.7 ms p50, measured.
    if (ctx.fast_start) {
      spec.argv.insert(spec.argv.begin() + 1, {"-XX:+UnlockDiagnosticVMOptions",
                                               "-XX:ArchiveRelocationMode=0",
                                               "-XX:CICompilerCount=1"});
    }
    // The runtime's application CDS archive for this JDK (runtimes/java/build.sh): measured
    // to halve the cold start of POJO handlers (shaded Jackson mapped, not parsed). Archives
    // record the classpath they were dumped with, so it is used only where the runtime is at
    // its host path; a stale one (JDK upgraded) is ignored by -Xshare:auto, and the -Xlog
    // options keep the JVM's CDS warnings out of the function's log.
    const fs::path jdk = exe.parent_path().parent_path();
    const fs::path archive =
        paths_.java_runtime_dir / "cds" / (jdk.filename().string() + ".jsa");
    std::error_code cds_ec;
    if (java_runtime == paths_.java_runtime_dir && fs::is_regular_file(archive, cds_ec)) {
      const auto cp = spec.argv.end() - 3;  // before "-cp <classpath> <main class>"
      spec.argv.insert(cp, {"-XX:SharedArchiveFile=" + archive.string(), "-Xlog:cds=off",
                            "-Xlog:cds+dynamic=off"});
    }
    path = exe.parent_path().string() + ":" + path;
    extra.push_back("JAVA_HOME=" + jdk.string());
    if (opt != "/opt") extra.push_back("KINDLING_OPT_DIR=" + opt.string());
    // Fast start: the JDK's zygote (src/spawner/java_zygote_main.cc) has libjvm.so loaded and
    // creates the JVM itself from this command line (JNI_CreateJavaVM), skipping the exec of
    // the launcher and the loading of libjvm (docs/runtimes.md, "The JDK's zygote"). One zygote
    // per JDK build (a JDK upgraded in place gets a new zygote: a JVM must not pair the old
    // libjvm with the new class library); the JDK is at its host path in every sandbox.
    const fs::path libjvm = jdk / "lib" / "server" / "libjvm.so";
    if (ctx.fast_start && ctx.isolated && !paths_.java_zygote.empty() &&
        fastStartBlocker(fn).empty()) {
      if (auto stamp = fileStamp(libjvm)) {
        sandbox::ZygoteSpec zygote;
        zygote.key = fn.runtime + ":" + libjvm.string() + ":" + *stamp;
        zygote.argv = {paths_.java_zygote.string(), libjvm.string()};
        zygote.env = {"PATH=/usr/bin:/bin"};
        spec.zygote = std::move(zygote);
      }
    }
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
  // AWS: "The AWS_LAMBDA_LOG_GROUP_NAME and AWS_LAMBDA_LOG_STREAM_NAME environment variables
  // are not available in Lambda SnapStart functions" (snapstart-monitoring.html): a snapshot
  // would carry one environment's stream name into all of its restores.
  if (ctx.initialization_type != "snap-start") {
    env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + fn.name;
    env["AWS_LAMBDA_LOG_STREAM_NAME"] = ctx.log_stream_name;
  }
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
    // A function's own PYTHONPATH / NODE_PATH / RUBYLIB / GEM_PATH wins, as on AWS; the
    // runtime directory is ours.
    if ((key == "PYTHONPATH" || key == "NODE_PATH" || key == "RUBYLIB" || key == "GEM_PATH") &&
        fn.environment.count(key)) {
      continue;
    }
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
