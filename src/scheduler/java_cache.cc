// Per-function Java archives: keys, paths and command-line rewriting (see java_cache.h).
#include "scheduler/java_cache.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/strings.h"
#include "scheduler/launch_files.h"

namespace kindling::scheduler {

namespace fs = std::filesystem;

namespace {

// Flags that name an archive: replaced by the per-function ones, and left out of the key (the
// runtime archive flag comes and goes with the runtime archive file).
constexpr std::array<std::string_view, 6> kArchiveFlagPrefixes = {
    "-XX:SharedArchiveFile=", "-XX:AOTCache=",        "-Xshare:",
    "-Xlog:cds",              "-XX:ArchiveClassesAtExit=", "-XX:AOTCacheOutput="};

// Variables the JVM (or its launcher) reads options from, and those the runtime's class loader
// reads its class path from: part of the key.
constexpr std::array<std::string_view, 5> kKeyedEnv = {
    "JAVA_TOOL_OPTIONS=", "_JAVA_OPTIONS=", "JDK_JAVA_OPTIONS=", "LAMBDA_TASK_ROOT=",
    "KINDLING_OPT_DIR="};

constexpr std::string_view kClassPathFlag = "-cp";

// Least memory a JDK 25 training run gets (two JVMs at once, see makeTraining).
constexpr int kAotTrainingMinMemoryMb = 1024;

bool isArchiveFlag(std::string_view arg) {
  return std::any_of(kArchiveFlagPrefixes.begin(), kArchiveFlagPrefixes.end(),
                     [&](std::string_view p) { return startsWith(arg, p); });
}

// "<size>:<mtime ns>" of a file, for the key.
Result<std::string> readSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errnoError("open(" + path.string() + ")");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Appends one class path element: a jar or directory, or "dir/*" (every jar in dir, by name).
Status addClassPathEntry(std::string& key, const sandbox::SpawnSpec& spec,
                         std::string_view element, bool isolated) {
  key += "cp ";
  key += element;
  key += '\n';
  if (element.size() >= 2 && element.substr(element.size() - 2) == "/*") {
    const fs::path dir = hostPath(spec, fs::path(element.substr(0, element.size() - 2)), isolated);
    std::error_code ec;
    std::vector<fs::path> jars;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".jar") jars.push_back(entry.path());
    }
    if (ec) return errnoError("opendir(" + dir.string() + ")", ec.value());
    std::sort(jars.begin(), jars.end());
    for (const auto& jar : jars) {
      auto stamp = fileStamp(jar);
      if (!stamp) return tl::unexpected(std::move(stamp.error()));
      key += " " + jar.filename().string() + " " + *stamp + "\n";
    }
    return {};
  }
  const fs::path path = hostPath(spec, fs::path(element), isolated);
  std::error_code ec;
  if (fs::is_directory(path, ec)) return {};  // classes in a directory: the code's digest
  auto stamp = fileStamp(path);
  if (!stamp) return tl::unexpected(std::move(stamp.error()));
  key += " " + *stamp + "\n";
  return {};
}

bool isPathComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Index of "-cp" in argv (the archive flags go before it), or argv.size().
size_t classPathIndex(const std::vector<std::string>& argv) {
  const auto it = std::find(argv.begin(), argv.end(), kClassPathFlag);
  return static_cast<size_t>(it - argv.begin());
}

}  // namespace

std::string_view javaArchiveExtension(JavaArchiveKind kind) {
  return kind == JavaArchiveKind::AotCache ? ".aot" : ".jsa";
}

int javaMajorFromRelease(std::string_view release_text) {
  constexpr std::string_view kLine = "JAVA_VERSION=\"";
  size_t at = 0;
  while ((at = release_text.find(kLine, at)) != std::string_view::npos) {
    if (at == 0 || release_text[at - 1] == '\n') {
      int major = 0;
      for (size_t i = at + kLine.size(); i < release_text.size(); ++i) {
        const char c = release_text[i];
        if (c < '0' || c > '9') break;
        major = major * 10 + (c - '0');
        if (major > 100000) return 0;
      }
      return major;
    }
    at += kLine.size();
  }
  return 0;
}

bool JavaCache::isJavaLaunch(const sandbox::SpawnSpec& spec) {
  return !spec.argv.empty() && fs::path(spec.argv[0]).filename() == "java" &&
         classPathIndex(spec.argv) + 1 < spec.argv.size();
}

Result<JavaCache::Identity> JavaCache::identify(const store::FunctionConfig& fn,
                                                const sandbox::SpawnSpec& spec, bool isolated) {
  if (!isJavaLaunch(spec)) {
    return makeError(ErrorCode::InvalidArgument, "java archive: not a java launch");
  }
  std::string key;
  key.reserve(2048);
  // The JDK.
  const fs::path java = hostPath(spec, spec.argv[0], isolated);
  const fs::path jdk = java.parent_path().parent_path();
  auto release = readSmallFile(jdk / "release");
  if (!release) return tl::unexpected(std::move(release.error()).wrap("java archive"));
  const int major = javaMajorFromRelease(*release);
  if (major == 0) {
    return makeError(ErrorCode::InvalidArgument,
                     "java archive: no JAVA_VERSION in " + (jdk / "release").string());
  }
  Identity id;
  id.kind = major >= 25 ? JavaArchiveKind::AotCache : JavaArchiveKind::DynamicArchive;
  key += "kind ";
  key += javaArchiveExtension(id.kind);
  key += "\njava " + spec.argv[0] + "\nrelease " + *release + "\n";
  auto libjvm = fileStamp(jdk / "lib/server/libjvm.so");
  if (!libjvm) return tl::unexpected(std::move(libjvm.error()).wrap("java archive"));
  key += "libjvm " + *libjvm + "\n";
  // The JDK's base archive (under a dynamic archive; in an AOT cache's JDK part).
  auto base = fileStamp(jdk / "lib/server/classes.jsa");
  key += "base " + (base ? *base : std::string("none")) + "\n";
  // Flags and class path.
  const size_t cp = classPathIndex(spec.argv);
  for (size_t i = 1; i < spec.argv.size(); ++i) {
    const std::string& arg = spec.argv[i];
    if (i == cp + 1) {
      for (auto element : split(arg, ':')) {
        if (element.empty()) continue;
        if (auto st = addClassPathEntry(key, spec, element, isolated); !st) {
          return tl::unexpected(std::move(st.error()).wrap("java archive"));
        }
      }
      continue;
    }
    if (isArchiveFlag(arg)) continue;
    key += "arg " + arg + "\n";
  }
  for (const auto& var : spec.env) {
    if (std::any_of(kKeyedEnv.begin(), kKeyedEnv.end(),
                    [&](std::string_view p) { return startsWith(var, p); })) {
      key += "env " + var + "\n";
    }
  }
  key += "cwd " + spec.cwd.string() + "\n";
  // The version's code, layers and handler (the classes its init loads).
  key += "code " + fn.code_sha256_hex + "\nhandler " + fn.handler + "\n";
  for (const auto& layer : fn.layers) key += "layer " + layer.code_sha256_hex + "\n";
  id.key = sha256Hex(key).substr(0, 32);
  return id;
}

Result<fs::path> JavaCache::versionDir(std::string_view function, std::string_view version) const {
  if (!isPathComponent(function) || !isPathComponent(version)) {
    return makeError(ErrorCode::InvalidArgument,
                     "java archive: bad function or version name \"" + std::string(function) +
                         ":" + std::string(version) + "\"");
  }
  return root_ / function / version;
}

Result<fs::path> JavaCache::archivePath(std::string_view function, std::string_view version,
                                        const Identity& id) const {
  auto dir = versionDir(function, version);
  if (!dir) return dir;
  return *dir / (id.key + std::string(javaArchiveExtension(id.kind)));
}

JavaArchivePolicy javaArchivePolicy(const store::FunctionConfig& fn) {
  auto tag = fn.tags.find("kindling:java-archive");
  if (tag == fn.tags.end()) return JavaArchivePolicy::Auto;
  if (tag->second == "always") return JavaArchivePolicy::Always;
  if (tag->second == "never") return JavaArchivePolicy::Never;
  return JavaArchivePolicy::Auto;
}

namespace {

// .class entries of one jar, from its central directory (nothing is inflated), up to `left`.
size_t jarClassCount(const fs::path& jar, size_t left) {
  struct archive* a = archive_read_new();
  if (a == nullptr) return 0;
  archive_read_support_format_zip_seekable(a);
  size_t n = 0;
  if (archive_read_open_filename(a, jar.c_str(), 64 * 1024) == ARCHIVE_OK) {
    archive_entry* entry = nullptr;
    while (n < left && archive_read_next_header(a, &entry) == ARCHIVE_OK) {
      const char* name = archive_entry_pathname(entry);
      if (name != nullptr && std::string_view(name).ends_with(".class")) ++n;
    }
  }
  archive_read_free(a);
  return n;
}

}  // namespace

size_t JavaCache::ownClassCount(const std::vector<fs::path>& roots, size_t stop_at) {
  size_t n = 0;
  for (const auto& root : roots) {
    if (root.empty()) continue;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (const fs::recursive_directory_iterator end; !ec && it != end && n < stop_at;
         it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      const std::string name = it->path().filename().string();
      if (name.ends_with(".class")) {
        ++n;
      } else if (name.ends_with(".jar")) {
        n += jarClassCount(it->path(), stop_at - n);
      }
    }
  }
  return std::min(n, stop_at);
}

std::optional<fs::path> JavaCache::find(const store::FunctionConfig& fn, const Identity& id) const {
  if (javaArchivePolicy(fn) == JavaArchivePolicy::Never) return std::nullopt;
  auto path = archivePath(fn.name, fn.version, id);
  if (!path) return std::nullopt;
  struct stat st {};
  if (::lstat(path->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return *path;
}

namespace {

// Removes the runtime archive's flags (-XX:SharedArchiveFile, -Xlog:cds...) and, for an AOT
// cache (which refuses it on the same line), -Xshare:.
void dropArchiveFlags(std::vector<std::string>& argv, bool aot) {
  argv.erase(std::remove_if(argv.begin() + 1, argv.end(),
                            [&](const std::string& arg) {
                              return startsWith(arg, "-XX:SharedArchiveFile=") ||
                                     startsWith(arg, "-Xlog:cds") ||
                                     (aot && startsWith(arg, "-Xshare:"));
                            }),
             argv.end());
}

}  // namespace

void JavaCache::useArchive(sandbox::SpawnSpec& spec, const fs::path& archive,
                           JavaArchiveKind kind, bool isolated) {
  const bool aot = kind == JavaArchiveKind::AotCache;
  auto& argv = spec.argv;
  dropArchiveFlags(argv, aot);
  const fs::path inside =
      isolated ? fs::path(kJavaCacheInside) / archive.filename() : archive;
  // -Xlog:...=off: a JVM that rejects the file anyway says so on the function's log otherwise.
  std::vector<std::string> flags;
  if (aot) {
    flags = {"-XX:AOTCache=" + inside.string(), "-Xlog:cds=off", "-Xlog:aot=off"};
  } else {
    flags = {"-XX:SharedArchiveFile=" + inside.string(), "-Xlog:cds=off",
             "-Xlog:cds+dynamic=off"};
  }
  argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(classPathIndex(argv)), flags.begin(),
              flags.end());
  if (isolated) spec.view.extra_read_only.emplace_back(archive, inside);
}

void JavaCache::makeTraining(sandbox::SpawnSpec& spec, const fs::path& host_dir,
                             std::string_view file_name, JavaArchiveKind kind, bool isolated,
                             std::string_view runtime_api) {
  const bool aot = kind == JavaArchiveKind::AotCache;
  auto& argv = spec.argv;
  dropArchiveFlags(argv, aot);
  const fs::path out =
      (isolated ? fs::path(kJavaCacheInside) : host_dir) / std::string(file_name);
  const std::string flag =
      (aot ? "-XX:AOTCacheOutput=" : "-XX:ArchiveClassesAtExit=") + out.string();
  argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(classPathIndex(argv)), flag);
  const std::string api = "AWS_LAMBDA_RUNTIME_API=" + std::string(runtime_api);
  bool api_set = false;
  auto& env = spec.env;
  env.erase(std::remove_if(env.begin(), env.end(),
                           [](const std::string& var) {
                             return startsWith(var, "KINDLING_JAVA_TRAINING=");
                           }),
            env.end());
  for (auto& var : env) {
    if (startsWith(var, "AWS_LAMBDA_RUNTIME_API=")) {
      var = api;
      api_set = true;
    }
  }
  if (!api_set) env.push_back(api);
  env.emplace_back(kJavaTrainingEnv);
  // JDK 25's one-step AOT training (-XX:AOTCacheOutput) starts a second JVM that assembles the
  // cache while the first waits: at the function's own memory size both together were
  // OOM-killed (256 MB, measured). The heap flag stays as is (it is part of the key), only the
  // cgroup's limit grows.
  if (aot) spec.memory_mb = std::max(spec.memory_mb * 2, kAotTrainingMinMemoryMb);
  if (isolated) spec.view.read_write = {host_dir, fs::path(kJavaCacheInside)};
  // Exec'd through the JDK's own launcher, never forked from the Java zygote: the archive is
  // then dumped exactly as the JDK makes it, and JDK 25's second JVM is started by bin/java.
  spec.zygote.reset();
}

Status JavaCache::pruneVersion(std::string_view function, std::string_view version,
                               std::string_view keep) const {
  auto dir = versionDir(function, version);
  if (!dir) return tl::unexpected(std::move(dir.error()));
  std::error_code ec;
  Status result;
  for (const auto& entry : fs::directory_iterator(*dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == keep) continue;
    std::error_code remove_ec;
    fs::remove_all(entry.path(), remove_ec);
    if (remove_ec && result) {
      result = errnoError("remove(" + entry.path().string() + ")", remove_ec.value());
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return errnoError("opendir(" + dir->string() + ")", ec.value());
  }
  return result;
}

Status JavaCache::removeFunction(std::string_view function) const {
  if (!isPathComponent(function)) {
    return makeError(ErrorCode::InvalidArgument,
                     "java archive: bad function name \"" + std::string(function) + "\"");
  }
  std::error_code ec;
  fs::remove_all(root_ / function, ec);
  if (ec) return errnoError("remove_all(" + (root_ / function).string() + ")", ec.value());
  return {};
}

Status JavaCache::removeVersion(std::string_view function, std::string_view version) const {
  auto dir = versionDir(function, version);
  if (!dir) return tl::unexpected(std::move(dir.error()));
  std::error_code ec;
  fs::remove_all(*dir, ec);
  if (ec) return errnoError("remove_all(" + dir->string() + ")", ec.value());
  return {};
}

}  // namespace kindling::scheduler
