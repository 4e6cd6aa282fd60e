// The `kindling` command line: parses argv, then either runs the daemon through hooks (serve,
// demo's embedded daemon) or talks to a running daemon over its AWS-compatible HTTP API. The
// daemon itself is injected through CliHooks so this library never links the engine.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"

namespace kindling::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:9000";
  std::string data_dir;  // "" = default
  std::string log_level = "info";
  int keep_alive_s = 600;
  int freeze_after_ms = 1000;  // idle environments are frozen after this; 0 = never
  int async_retry_delay_ms = 60000;  // Lambda's ~1 min async retry delay (tests shrink it)
  int async_max_in_flight = 16;      // Event invocations running at once
  int account_concurrency = 1000;    // Lambda's account concurrency limit
  int64_t memory_budget_mb = -1;     // host memory for environments; -1 = 80% of RAM, 0 = none
  // "on": Python and Ruby environments fork from runtime zygotes, SnapStart versions from their
  // function snapshots; "off": every runtime is exec'd; "" (not given): $KINDLING_FAST_START
  // (on|1|off|0), else on.
  std::string fast_start;
};

struct CliHooks {
  std::function<int(const ServeOptions&)> serve;  // runs the daemon in the foreground
  // starts an in-process daemon on 127.0.0.1:0 (data dir given), returns "http://127.0.0.1:PORT"
  std::function<Result<std::string>(const ServeOptions&)> start_embedded;
  std::function<void()> stop_embedded;
};

// Runs one `kindling` invocation and returns the process exit code (0 ok, 1 function error,
// 2 usage/API/transport error). Not thread-safe: installs a SIGINT handler for `logs --follow`.
int runCli(int argc, char** argv, const CliHooks& hooks);

}  // namespace kindling::cli
