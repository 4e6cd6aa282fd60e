// What the JDK's `java` launcher makes of a command line, for kindling's Java zygote
// (java_zygote_main.cc), which creates the JVM itself with JNI_CreateJavaVM. Only what the
// engine's own Java lines use (runtime_catalog.cc, java_cache.cc) and their plain relatives:
// JVM options (-X..., -XX:..., -D..., -ea, -verbose:..., -javaagent:...), the class path (-cp,
// -classpath, --class-path, else CLASSPATH) with the launcher's wildcard expansion, the
// two-argument module options, a main class and its arguments. Launcher-only actions (-jar,
// -m/--module, -version, -help, -X, @argfiles, --dry-run, -XshowSettings) are refused: the
// engine never puts them on a line it forks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kindling::spawner {

struct JavaLaunch {
  // For JNI_CreateJavaVM, in the launcher's order: the options as given (-cp as
  // -Djava.class.path=<expanded>), then -Dsun.java.command and -Dsun.java.launcher.
  std::vector<std::string> vm_options;
  std::string main_class;  // as given ("a.b.Main")
  std::vector<std::string> main_args;
  // Stack of the thread that becomes Java's "main": -Xss / -XX:ThreadStackSize, else the JVM's
  // default on Linux x86-64 and arm64 (ThreadStackSize=1M), as the launcher asks the JVM.
  size_t stack_size = size_t{1} << 20;
};

// argv[0] is the java executable (ignored); `classpath_env` is CLASSPATH ("" when unset).
Result<JavaLaunch> parseJavaCommandLine(const std::vector<std::string>& argv,
                                        std::string_view classpath_env);

// The launcher's class-path wildcards: an entry "dir/*" (or "*") becomes the files of dir whose
// names end in ".jar" in any case, in directory order (as the launcher reads them: a class-data
// archive records the expanded path and is refused when it differs); an entry that expands to
// nothing is dropped. A class path without '*' is returned as it is.
std::string expandClassPathWildcards(std::string_view classpath);

// "-Xss" / "-XX:ThreadStackSize=" values: "<n>[kKmMgG]" -> bytes (ThreadStackSize counts
// kilobytes); 0 when malformed.
size_t parseJavaSize(std::string_view text, size_t unit);

}  // namespace kindling::spawner
