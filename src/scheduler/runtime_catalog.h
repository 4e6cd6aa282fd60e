// Runtime ids -> how to start them. Interpreters are discovered on the host at startup (Debian's
// /usr/bin/python3.11, pyenv's real binaries, the official Node binaries under
// /opt/kindling/toolchains); a runtime id whose interpreter is absent is refused, never mapped to
// another version. docs/runtimes.md keeps the table.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "sandbox/sandbox.h"
#include "store/function.h"

namespace kindling::scheduler {

struct RuntimeInfo {
  std::string id;                     // "python3.11"
  std::string family;                 // "python", "nodejs", "java", "provided"
  std::filesystem::path interpreter;  // empty for provided; <JDK>/bin/java for java
};

struct LaunchContext {
  std::filesystem::path code_dir;
  std::filesystem::path opt_dir;  // merged layers, mounted at /opt; "" when the function has none
  uint16_t runtime_api_port = 0;
  std::string runtime_api_host = "127.0.0.1";
  std::string log_stream_name;
  std::string region;
  // The sandbox gives the environment its own root: use the paths inside it (/var/task, ...).
  bool isolated = false;
  // AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand", "provisioned-concurrency" or "snap-start".
  std::string initialization_type = "on-demand";
  // Fast start wanted (daemon flag on, tag kindling:fast-start not "false"): Python and Ruby
  // environments name their runtime's zygote in SpawnSpec::zygote (isolated sandboxes only).
  bool fast_start = false;
};

class RuntimeCatalog {
 public:
  struct Paths {
    std::filesystem::path runtimes_dir;     // <repo>/runtimes
    std::filesystem::path toolchains_dir = "/opt/kindling/toolchains";
    std::filesystem::path python_sdk_dir = "/opt/kindling/sdk/python";
    std::filesystem::path node_sdk_dir = "/opt/kindling/sdk/node/node_modules";
    std::filesystem::path pyenv_versions_dir = "/root/.pyenv/versions";
    // JDKs (Debian's java-<N>-openjdk-<arch>, Temurin's temurin-<N>-jdk-<arch>) and kindling's
    // Java runtime (runtimes/java/build.sh: kindling-java-runtime.jar + lib/*.jar).
    std::filesystem::path jvm_dir = "/usr/lib/jvm";
    std::filesystem::path java_runtime_dir = "/opt/kindling/sdk/java";
    // kindling-java-zygote (built next to the kindling binary); empty: Java is always exec'd.
    std::filesystem::path java_zygote;
  };
  // Scans the host for interpreters.
  static RuntimeCatalog discover(const Paths& paths);

  // Ok if the runtime id is known and its interpreter is present; else an error saying what
  // to install (ErrorCode::InvalidRuntime) or that the id is unknown (ErrorCode::InvalidArgument).
  Status check(std::string_view runtime) const;
  // The process to start for one environment of this function.
  Result<sandbox::SpawnSpec> launch(const store::FunctionConfig& fn, const LaunchContext& ctx) const;
  std::vector<RuntimeInfo> available() const;
  // "-XX:MaxHeapSize=<N>k": 85 % of memory_mb as AWS's Java runtimes, but leaving at least
  // 40 MB for the JVM's non-heap memory (the memory cgroup is a hard limit). Thread-safe.
  static std::string javaHeapFlag(int memory_mb);
  // Why `fn` cannot start from a zygote even with fast start on ("" when it can): a variable
  // the interpreter reads only at start-up (PYTHON* other than PYTHONPATH; RUBY* other than
  // RUBYLIB, LD_PRELOAD, GLIBC_TUNABLES, MALLOC_* for Ruby; JDK_JAVA_OPTIONS, LD_*,
  // GLIBC_TUNABLES, MALLOC_* for Java, whose other fast-start flags stay). Thread-safe.
  static std::string fastStartBlocker(const store::FunctionConfig& fn);

 private:
  Paths paths_;
  std::map<std::string, RuntimeInfo, std::less<>> runtimes_;
};

}  // namespace kindling::scheduler
