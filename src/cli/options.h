// Command-line parsing for `kindling`, kept separate from execution so that it is a pure function
// of argv (unit-tested without a daemon). Every option lands in CliOptions; nothing runs here.
#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cli/cli.h"
#include "cli/control_commands.h"
#include "cli/lab_commands.h"
#include "cli/layer_commands.h"
#include "common/result.h"

namespace kindling::cli {

inline constexpr std::string_view kDefaultEndpoint = "http://127.0.0.1:9000";
inline constexpr const char* kEndpointEnvVar = "KINDLING_ENDPOINT";

enum class Command { Serve, Deploy, Invoke, List, Remove, Logs, Demo, Queue, Layer, Control, Lab };

struct DeployOptions {
  std::string name;
  std::string runtime;
  std::string handler;
  std::string code;  // a directory (zipped on the fly) or a .zip file
  int memory_mb = 128;
  int timeout_s = 3;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> tags;
  bool replace = false;  // delete an existing function first (else update it in place)
  bool publish = false;  // publish a version after the deploy
};

struct InvokeOptions {
  std::string name;
  std::string payload = "{}";  // raw argument: JSON text, "@file" or "@-" (stdin)
  std::string qualifier;       // "" = none
  std::string invocation_type = "RequestResponse";  // --invocation-type / --async (Event)
};

// `queue receive NAME` / `queue list`: the daemon's local SQS-style queues.
struct QueueOptions {
  enum class Action { Receive, List };
  Action action = Action::List;
  std::string name;              // queue name or SQS ARN (receive)
  int max_messages = 1;          // 1-10
  int visibility_timeout_s = 30;
  bool delete_received = false;
};

struct LogsOptions {
  std::string name;
  bool follow = false;
};

struct CliOptions {
  Command command = Command::Demo;
  std::optional<std::string> endpoint_flag;  // --endpoint, if given
  ServeOptions serve;
  DeployOptions deploy;
  InvokeOptions invoke;
  LogsOptions logs;
  QueueOptions queue;
  LayerOptions layer;
  ControlOptions control;  // publish, alias, concurrency
  LabOptions lab;          // bench, tune, report
  std::string remove_name;  // rm NAME
};

// Either parsed options, or an exit code after help/usage text was written to out/err.
struct ParseOutcome {
  std::optional<CliOptions> options;
  int exit_code = 0;
};

// Parses argv (argv[0] is the program name). Writes help to `out` and usage errors to `err`.
// Thread-safe (no global state).
ParseOutcome parseCommandLine(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err);

// Endpoint resolution: --endpoint, else $KINDLING_ENDPOINT (if non-empty), else the default.
// Pure; thread-safe.
std::string resolveEndpoint(const std::optional<std::string>& flag, const char* env_value);

// Splits "KEY=VALUE" (value may be empty or contain '='); error if there is no '=' or no key.
// Pure; thread-safe.
Result<std::pair<std::string, std::string>> parseKeyValue(std::string_view arg);

// Resolves an --payload argument: "@path" reads the file, "@-" reads stdin, anything else is the
// payload itself. Thread-safe except for "@-" (consumes stdin).
Result<std::string> loadPayload(std::string_view arg);

// Reads a whole file into memory (sized up front: one allocation). Thread-safe.
Result<std::string> readWholeFile(const std::string& path);

// Checks "HOST:PORT" with a numeric port 0..65535. Pure; thread-safe.
Status validateListenAddress(std::string_view listen);

}  // namespace kindling::cli
