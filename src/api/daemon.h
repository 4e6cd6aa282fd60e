// The daemon: owns every long-lived part (I/O threads, registry, code store, log store, metrics,
// runtime catalog, sandbox, engine, the AWS API listener) and their order of construction and
// destruction. `kindling serve` runs one in the foreground; `kindling demo` embeds one.
//
// Threads: N Asio I/O threads (HTTP parsing, Runtime API, invoke path, timers, pipes, process
// exits) + a small blocking pool for management operations (SQLite, zip extraction). No thread
// ever holds a lock across an invocation.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"

namespace kindling::api {

struct DaemonOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 9000;
  std::filesystem::path data_dir;       // "" = $XDG_DATA_HOME/kindling or ~/.local/share/kindling
  std::filesystem::path runtimes_dir;   // "" = <repo>/runtimes found from the executable
  int keep_alive_s = 600;
  int freeze_after_ms = 1000;           // idle environments are frozen after this; 0 = never
  int io_threads = 0;                   // 0 = number of cores
  std::string region = "us-east-1";
  uint64_t max_log_stream_bytes = 64ull << 20;
  size_t max_log_streams_per_function = 200;
  // "auto" (linux when root), "linux" (spawner + cgroups + seccomp) or "process" (no isolation).
  std::string sandbox = "auto";
  // Lambda's account concurrency limit and the part reservations must leave unreserved.
  int account_concurrency = 1000;
  int min_unreserved_concurrency = 100;
  // Host memory environments may use, MB: -1 = 80% of physical RAM, 0 = no budget.
  int64_t memory_budget_mb = -1;
  // Fast start: Python environments are forked from runtime zygotes (needs the linux sandbox
  // with isolation; elsewhere every runtime is exec'd, as with it off).
  bool fast_start = false;
  // Asynchronous invocation: Lambda's ~1 min retry delay (tests shrink it; the throttle backoff
  // scales with it) and how many Event invocations run at once.
  int async_retry_delay_ms = 60000;
  int async_max_in_flight = 16;
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> start(DaemonOptions options);
  ~Daemon();
  uint16_t port() const;
  std::string endpoint() const;
  // Graceful stop: refuse new requests, let in-flight invocations finish (up to a grace period),
  // stop every environment, join the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Default data dir per XDG.
std::filesystem::path defaultDataDir();
// The repository root holding runtimes/ (KINDLING_HOME, else walking up from the executable).
Result<std::filesystem::path> findRepoRoot();

}  // namespace kindling::api
