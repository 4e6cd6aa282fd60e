// `kindling demo`: a two-minute tour. Uses the daemon at the endpoint if one answers its health
// check, else starts an embedded one (CliHooks) on a temporary data dir; deploys the bundled
// examples (python, node, provided.al2023 with the test payload binary), invokes each one cold
// and then warm, prints results and REPORT lines, and cleans everything up again.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/result.h"

namespace kindling::cli {

struct DemoExample {
  std::string_view label;          // "python"
  std::string_view function_name;  // "kindling-demo-python"
  // Code dir relative to the repo root; "" = the payload binary; "build:<path>" = a package the
  // build produced, relative to the build dir (compiled examples, e.g. Java's hello.zip).
  std::string_view source;
  std::string_view handler;
  std::vector<std::string_view> runtimes;  // tried in order; a rejected runtime -> next
  std::string_view payload;
};

// The bundled examples the demo deploys, in display order. Thread-safe.
const std::vector<DemoExample>& demoExamples();

// The repository root: $KINDLING_HOME if set (must contain runtimes/ and examples/), else the
// first ancestor of `exe_path` that contains both. Thread-safe.
Result<std::filesystem::path> findRepoRoot(const char* kindling_home,
                                           const std::filesystem::path& exe_path);

// The test payload binary: <build>/payloads/bootstrap (or <build>/tests/payloads/bootstrap),
// searched upwards from `exe_path`, then under `build_dir_hint` (may be empty). Thread-safe.
Result<std::filesystem::path> findPayloadBootstrap(const std::filesystem::path& exe_path,
                                                   const std::filesystem::path& build_dir_hint);

// Runs the demo against `endpoint_url` (or an embedded daemon). Returns 0 when every example
// that could be deployed ran cleanly, 1 on a function error, 2 otherwise. Not thread-safe.
int runDemo(const std::string& endpoint_url, const CliHooks& hooks, Console console);

}  // namespace kindling::cli
