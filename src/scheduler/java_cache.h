// Per-function Java class-data archives (issue 7 item 4; docs/runtimes.md, "Java cold start").
//
// A published version of a java17/java25 function gets an archive of the classes its init
// loads, written by a training run of that init (JavaTrainer, java_training.h) in a sandbox
// laid out exactly as the version's environments are (/var/task, the runtime's class path, the
// same flags): JDK 17-24 write a dynamic CDS archive (-XX:ArchiveClassesAtExit, .jsa), JDK 25+
// an AOT cache (-XX:AOTCacheOutput, JEP 483/514, .aot). Later cold starts of that version bind
// the file read-only at /var/kindling-cache/<file> and pass it instead of the runtime's archive.
//
// Why a key: the JVM drops a stale dynamic archive whole (the runtime's classes with it), which
// starts slower than the runtime archive would, and it checks only part of what matters. So an
// archive is stored under a key hashing everything it depends on -- the JDK (java path, its
// `release` file, libjvm.so and its base archive by size and mtime), the class path's jars by
// size and mtime, the JVM option variables, the version's code and layers' SHA-256 and the JVM
// flags -- and a cold start uses it only when the key computed for its own command line names
// an existing file: <root>/<function>/<version>/<key>.{jsa,aot}. Anything else keeps today's
// command line exactly.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sandbox/sandbox.h"
#include "store/function.h"

namespace kindling::scheduler {

// Where archives appear inside a sandbox: a training run's writable directory, and the
// read-only bind of a finished archive (<dir>/<file name>).
inline constexpr std::string_view kJavaCacheInside = "/var/kindling-cache";
// Set in a training run's environment: the runtime runs the function's init, walks its own
// invocation paths and exits 0 without calling /next (runtimes/java, Bootstrap.java).
inline constexpr std::string_view kJavaTrainingEnv = "KINDLING_JAVA_TRAINING=1";

enum class JavaArchiveKind {
  DynamicArchive,  // JDK < 25: -XX:ArchiveClassesAtExit / -XX:SharedArchiveFile, ".jsa"
  AotCache,        // JDK 25+: -XX:AOTCacheOutput / -XX:AOTCache, ".aot"
};

// ".jsa" or ".aot". Thread-safe.
std::string_view javaArchiveExtension(JavaArchiveKind kind);

// The major version in a JDK `release` file's JAVA_VERSION="17.0.13" line; 0 if absent. Pure.
int javaMajorFromRelease(std::string_view release_text);

// When a published version gets its own archive (tag kindling:java-archive): `auto` (default)
// when the function brings at least kJavaArchiveMinClasses classes of its own -- below that the
// runtime's archive already maps nearly everything its init loads, and a per-function archive
// measured no faster (hello, heavy-init: +-0 % on java17, +3-6 % slower on java25: the AOT cache
// maps more than it saves) while a class-heavy function gained 13-27 % (docs/runtimes.md);
// `always`; `never`.
enum class JavaArchivePolicy { Auto, Always, Never };
inline constexpr size_t kJavaArchiveMinClasses = 100;
// The tag's value; Auto when absent. Pure.
JavaArchivePolicy javaArchivePolicy(const store::FunctionConfig& fn);

class JavaCache {
 public:
  // Classes a function brings itself: .class files under `roots` (its /var/task and its
  // layers), and the .class entries of the jars there (read from each zip's central
  // directory), counting stops at `stop_at`. Unreadable files count nothing. Thread-safe.
  static size_t ownClassCount(const std::vector<std::filesystem::path>& roots, size_t stop_at);

  // `root`: <data dir>/java-cache (need not exist yet).
  explicit JavaCache(std::filesystem::path root) : root_(std::move(root)) {}

  // True for specs this cache applies to: a JVM running kindling's Java runtime (argv[0] a
  // `java`, a "-cp" argument). Pure; thread-safe.
  static bool isJavaLaunch(const sandbox::SpawnSpec& spec);

  // What a launch's archive is: its kind (from the JDK's release file) and key (see the file
  // comment). Reads the host filesystem (the JDK's release, stats of libjvm.so, the base
  // archive and every class path jar); errors name the file that could not be read. `isolated`:
  // argv uses paths inside the sandbox, mapped back to the host through spec.view.
  // Thread-safe.
  struct Identity {
    JavaArchiveKind kind = JavaArchiveKind::DynamicArchive;
    std::string key;  // 32 hex characters
  };
  static Result<Identity> identify(const store::FunctionConfig& fn, const sandbox::SpawnSpec& spec,
                                   bool isolated);

  // <root>/<function>/<version>; InvalidArgument for names that are not one path component
  // (empty, ".", "..", containing '/'). Thread-safe.
  Result<std::filesystem::path> versionDir(std::string_view function,
                                           std::string_view version) const;
  // <versionDir>/<key><extension>. Thread-safe.
  Result<std::filesystem::path> archivePath(std::string_view function, std::string_view version,
                                            const Identity& id) const;
  // The finished archive of a launch whose identity is `id` (identify()) when its key matches
  // a regular file, else nullopt (also with kindling:java-archive=never). Thread-safe.
  std::optional<std::filesystem::path> find(const store::FunctionConfig& fn,
                                            const Identity& id) const;

  // Rewrites a cold start's spec to use `archive` (a host path): the runtime archive flag
  // (-XX:SharedArchiveFile) is replaced by -XX:SharedArchiveFile=<archive> (.jsa) or by
  // -XX:AOTCache=<archive> without -Xshare:auto (.aot: the JVM refuses both on one line);
  // isolated, the file is bound read-only at kJavaCacheInside/<file name>. Pure.
  static void useArchive(sandbox::SpawnSpec& spec, const std::filesystem::path& archive,
                         JavaArchiveKind kind, bool isolated);
  // Rewrites a version's spec into its training run's: no runtime archive (a dynamic archive
  // cannot stack on another), -XX:ArchiveClassesAtExit=<out> or -XX:AOTCacheOutput=<out>
  // (without -Xshare:auto), kJavaTrainingEnv and AWS_LAMBDA_RUNTIME_API=`runtime_api`;
  // isolated, `host_dir` is bound writable at kJavaCacheInside and <out> is
  // kJavaCacheInside/<file_name>, else <out> is host_dir/<file_name>. An AOT training run gets
  // max(2 x memory, 1024 MB) for its cgroup (it runs two JVMs at once; the heap flag is kept).
  // The run is exec'd (spec.zygote cleared). Pure.
  static void makeTraining(sandbox::SpawnSpec& spec, const std::filesystem::path& host_dir,
                           std::string_view file_name, JavaArchiveKind kind, bool isolated,
                           std::string_view runtime_api);

  // Deletes every archive and temp file of the version except `keep` (a file name; "" keeps
  // nothing). Best effort: errors are returned, files left. Thread-safe w.r.t. other versions.
  Status pruneVersion(std::string_view function, std::string_view version,
                      std::string_view keep) const;
  // Deletes <root>/<function> (DeleteFunction) or one version's directory. Thread-safe.
  Status removeFunction(std::string_view function) const;
  Status removeVersion(std::string_view function, std::string_view version) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;  // immutable
};

}  // namespace kindling::scheduler
