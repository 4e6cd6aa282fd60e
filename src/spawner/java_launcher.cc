#include "spawner/java_launcher.h"

#include <dirent.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

namespace kindling::spawner {
namespace {

// Two-argument module options the launcher passes to the JVM as "<name>=<value>".
constexpr std::array<std::string_view, 8> kJoinedOptions = {
    "--add-modules", "--limit-modules",  "--add-exports",     "--add-opens",
    "--add-reads",   "--patch-module",   "--module-path",     "--upgrade-module-path"};

// Launcher-only actions: the zygote has no launcher to hand them to.
bool launcherOnly(std::string_view arg) {
  static constexpr std::array<std::string_view, 16> kExact = {
      "-jar",     "-m",         "--module",      "-version",     "--version", "-showversion",
      "--show-version", "-help", "-h",           "-?",           "--help",    "--help-extra",
      "-X",       "--dry-run",  "--list-modules", "--validate-modules"};
  for (auto exact : kExact) {
    if (arg == exact) return true;
  }
  return arg.rfind("-XshowSettings", 0) == 0 || arg.rfind("--module=", 0) == 0 ||
         arg.rfind("--describe-module", 0) == 0 || arg == "-d32" || arg == "-d64" ||
         arg.rfind("--source", 0) == 0 || arg.rfind("-splash:", 0) == 0;
}

bool isJar(std::string_view name) {
  return name.size() >= 4 && ::strncasecmp(name.data() + name.size() - 4, ".jar", 4) == 0;
}

}  // namespace

size_t parseJavaSize(std::string_view text, size_t unit) {
  if (text.empty()) return 0;
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    if (value > std::numeric_limits<uint64_t>::max() / 10) return 0;
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (i == 0) return 0;
  uint64_t scale = unit;
  if (i + 1 == text.size()) {
    switch (text[i]) {
      case 'k': case 'K': scale = 1024; break;
      case 'm': case 'M': scale = 1024 * 1024; break;
      case 'g': case 'G': scale = 1024ull * 1024 * 1024; break;
      default: return 0;
    }
  } else if (i != text.size()) {
    return 0;
  }
  if (value > std::numeric_limits<size_t>::max() / scale) return 0;
  return static_cast<size_t>(value * scale);
}

std::string expandClassPathWildcards(std::string_view classpath) {
  if (classpath.find('*') == std::string_view::npos) return std::string(classpath);
  std::string out;
  bool first = true;
  auto add = [&](std::string_view entry) {
    if (!first) out += ':';
    out += entry;
    first = false;
  };
  size_t start = 0;
  while (start <= classpath.size()) {
    size_t end = classpath.find(':', start);
    if (end == std::string_view::npos) end = classpath.size();
    const std::string_view entry = classpath.substr(start, end - start);
    start = end + 1;
    const bool wildcard = entry == "*" || (entry.size() >= 2 && entry.substr(entry.size() - 2) == "/*");
    if (!wildcard) {
      add(entry);
      continue;
    }
    const std::string dir(entry.substr(0, entry.size() - 1));  // "" or ".../"
    DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
    if (d == nullptr) continue;  // nothing to expand to: dropped, as the launcher does
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (isJar(name)) add(dir + std::string(name));
    }
    ::closedir(d);
  }
  return out;
}

Result<JavaLaunch> parseJavaCommandLine(const std::vector<std::string>& argv,
                                        std::string_view classpath_env) {
  JavaLaunch launch;
  if (!classpath_env.empty()) {
    // As the launcher: CLASSPATH first, overridden by a later -cp (the JVM takes the last).
    launch.vm_options.push_back("-Djava.class.path=" + expandClassPathWildcards(classpath_env));
  }
  size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (!arg.empty() && arg[0] == '@') {
      return makeError(ErrorCode::InvalidArgument,
                       "kindling's Java zygote does not handle the launcher's argument file " + arg);
    }
    if (arg.empty() || arg[0] != '-') break;  // the main class
    if (arg == "-cp" || arg == "-classpath" || arg == "--class-path") {
      if (i + 1 >= argv.size()) {
        return makeError(ErrorCode::InvalidArgument, arg + " requires class path specification");
      }
      launch.vm_options.push_back("-Djava.class.path=" + expandClassPathWildcards(argv[++i]));
      continue;
    }
    if (arg.rfind("--class-path=", 0) == 0) {
      launch.vm_options.push_back("-Djava.class.path=" +
                                  expandClassPathWildcards(arg.substr(arg.find('=') + 1)));
      continue;
    }
    if (launcherOnly(arg)) {
      return makeError(ErrorCode::InvalidArgument,
                       "kindling's Java zygote does not handle the launcher option " + arg);
    }
    bool joined = false;
    for (auto name : kJoinedOptions) {
      if (arg == name || (name == "--module-path" && arg == "-p")) {
        if (i + 1 >= argv.size()) {
          return makeError(ErrorCode::InvalidArgument, arg + " requires an argument");
        }
        launch.vm_options.push_back(std::string(name) + "=" + argv[++i]);
        joined = true;
        break;
      }
    }
    if (joined) continue;
    if (arg.rfind("-Xss", 0) == 0) {
      if (const size_t size = parseJavaSize(std::string_view(arg).substr(4), 1); size > 0) {
        launch.stack_size = std::max<size_t>(size, 64 * 1024);  // the launcher's minimum
      }
    } else if (arg.rfind("-XX:ThreadStackSize=", 0) == 0) {
      const std::string_view value = std::string_view(arg).substr(20);
      if (const size_t size = parseJavaSize(value, 1024); size > 0) {
        launch.stack_size = std::max<size_t>(size, 64 * 1024);
      }
    }
    launch.vm_options.push_back(arg);
  }
  if (i >= argv.size()) {
    return makeError(ErrorCode::InvalidArgument, "no main class on the command line");
  }
  launch.main_class = argv[i];
  std::string command = argv[i];
  for (++i; i < argv.size(); ++i) {
    launch.main_args.push_back(argv[i]);
    command += " " + argv[i];
  }
  launch.vm_options.push_back("-Dsun.java.command=" + command);
  launch.vm_options.push_back("-Dsun.java.launcher=SUN_STANDARD");
  return launch;
}

}  // namespace kindling::spawner
