// The engine: places invocations on execution environments. Per function it keeps a pool of
// environments; an invocation takes the most recently used idle one (warm) or starts a new one
// (cold). There is no global or per-function lock held across an invocation: parallel
// invocations of one function run in parallel in separate environments. Idle environments are
// reaped after the keep-alive. The engine also wires each environment to the outside world: its
// Runtime API listener, its process's exit fd and its stdout/stderr pipes (Asio).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "observe/log_store.h"
#include "observe/metrics.h"
#include "sandbox/sandbox.h"
#include "scheduler/environment.h"
#include "scheduler/invocation.h"
#include "scheduler/java_training.h"
#include "scheduler/node_snapshots.h"
#include "scheduler/runtime_catalog.h"
#include "scheduler/timers.h"

namespace kindling::scheduler {

struct EngineOptions {
  Clock::Duration keep_alive = std::chrono::minutes(10);
  Clock::Duration reap_interval = std::chrono::seconds(5);
  std::string region = "us-east-1";
  // Fast start (kindling serve --fast-start): Python environments are forked from a runtime
  // zygote unless the function's tag kindling:fast-start is "false".
  bool fast_start = false;
  std::string runtime_api_host = "127.0.0.1";
  EnvironmentOptions environment;
  // Host memory budget for environments, MB (0: no budget). An environment is admitted only if
  // the budget has room for its configured memory size: busy and starting environments count
  // their configured size, idle ones what they actually use (frozen, they are small); idle
  // environments are evicted, least recently used first, to make room; only then is the
  // invocation throttled.
  int64_t memory_budget_mb = 0;
  // Most environments alive at once (0: no cap), so that they cannot exhaust the daemon's file
  // descriptors (maxEnvironmentsForFileLimit). Past it, idle environments are evicted (LRU),
  // then invocations that need a new environment are throttled (429), as for memory.
  int64_t max_environments = 0;
  // Per-function Java archives (java_cache.h): <data dir>/java-cache, "" = none. Used with fast
  // start on and an isolating sandbox only.
  std::filesystem::path java_cache_dir;
  // V8 startup snapshots of the Node bootstrap (node_snapshots.h): <data dir>/node-snapshots,
  // "" = none. Used with fast start on, for Node 20 and 22.
  std::filesystem::path node_snapshot_dir;
};

// File descriptors the daemon budgets per environment. Idle, one holds 6 (cgroup v1, isolated,
// host network): its Runtime API listener and the runtime's connection, stdout and stderr
// pipes, the exit fd (the PID namespace's exit-status pipe, or a pidfd) and its log file; a busy
// one may open a second Runtime API connection.
inline constexpr int64_t kFdsPerEnvironment = 7;
// How many environments fit under an RLIMIT_NOFILE soft limit of `nofile`, keeping 64 + 1/8 of
// it for everything else (API clients, SQLite, log reads, warm stubs). At least 1. Pure.
int64_t maxEnvironmentsForFileLimit(uint64_t nofile);

class Engine {
 public:
  Engine(boost::asio::io_context& io, sandbox::Sandbox& sandbox, observe::LogStore& logs,
         observe::MetricsRegistry& metrics, const RuntimeCatalog& catalog, const Clock& clock,
         Timers& timers, EngineOptions options);
  ~Engine();

  // Runs one invocation of a target ($LATEST at a revision, or a published version);
  // request.done is called exactly once. Thread-safe.
  void invoke(const FunctionTarget& target, InvokeRequest request);
  // At PublishVersion of a SnapStart version, with fast start on: takes the version's function
  // snapshot (its init runs once, in a sandbox of its own) and waits up to `wait` for it. True
  // when it is ready; false when none is taken (fast start off, not Python, its init failed:
  // environments then start normally and report the error). Thread-safe; blocks.
  bool prepareSnapshot(const FunctionTarget& target, std::chrono::milliseconds wait);
  // After a function is created, changed or loaded: with fast start on for it, starts its
  // runtime's zygote now (the sandbox does it in the background), so its first cold start is
  // forked instead of exec'd while the zygote starts. Thread-safe; does not block.
  void prewarm(const FunctionTarget& target);
  // At PublishVersion of a Java version, with fast start on: starts the training run of its
  // per-function archive in the background (java_training.h) and returns at once; false when
  // none is started (not Java, fast start off, no archive directory, not isolated). Thread-safe.
  bool trainJavaArchive(const FunctionTarget& target);
  // Keeps `count` pre-initialised environments for a published version (provisioned
  // concurrency; AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency), never reaped by the
  // keep-alive and replaced when they die; 0 removes them. Thread-safe.
  void setProvisioned(const FunctionTarget& target, int count);
  struct ProvisionedStatus {
    int requested = 0;
    int ready = 0;       // initialised and alive
    int failures = 0;    // consecutive failed initialisations
    std::string last_error;
  };
  // Progress of a version's provisioned environments. Thread-safe.
  ProvisionedStatus provisionedStatus(const std::string& name, const std::string& version) const;
  // Stops every environment of a function, all versions (deletion). Thread-safe.
  void removeFunction(const std::string& name);
  // Stops every environment of one published version (DeleteFunction with a Qualifier).
  void removeVersion(const std::string& name, const std::string& version);
  // Stops every environment; in-flight invocations fail cleanly. Thread-safe.
  void shutdown();
  // Stops idle environments unused for longer than the keep-alive (also run periodically).
  void reapIdle();

  struct Wiring;
  class Pool;

 private:
  // Whether environments of `config` start fast (daemon flag, tag, interpreter variables);
  // `log`: say why not. Thread-safe.
  bool fastStartFor(const store::FunctionConfig& config, bool log) const;
  // The function's tag kindling:network=none, where the sandbox supports it. Thread-safe.
  bool networkNone(const store::FunctionConfig& config) const;
  // How to launch what runs beside a function's environments in a sandbox of its own (its
  // snapshot, its runtime's zygote, its Java training run): its code and layers, the daemon's
  // Runtime API host and region, isolated, fast start on. Thread-safe.
  LaunchContext besideLaunch(const FunctionTarget& target) const;
  // The function snapshot environments of a SnapStart version fork from, or nullopt.
  static std::optional<sandbox::ZygoteSpec> snapshotZygote(const store::FunctionConfig& config,
                                                           const sandbox::SpawnSpec& spec,
                                                           bool network_none);
  std::shared_ptr<Pool> poolFor(const FunctionTarget& target);
  // Warm if an environment is idle (or about to be), else cold.
  void place(const std::shared_ptr<Pool>& pool, InvokeRequest request);
  // Starts an environment: for `request` (cold start), or without one (provisioned).
  void startEnvironment(const std::shared_ptr<Pool>& pool, std::optional<InvokeRequest> request);
  // Starts provisioned environments until the pool has as many as it wants.
  void topUpProvisioned(const std::shared_ptr<Pool>& pool);
  // Arms one timer that tops the pool up again (after a backoff when starts keep failing).
  void scheduleProvisionedTopUp(const std::shared_ptr<Pool>& pool);
  void removePool(const std::shared_ptr<Pool>& pool);
  // Waits for an environment's process to exit, then reports it to the environment.
  void watchExit(const std::shared_ptr<Wiring>& wiring);
  // The exit fd was ready but the process had not exited: checks again in 100 ms (never spins).
  void recheckExit(const std::shared_ptr<Wiring>& wiring);
  // Reserves `memory_mb` of the memory budget and one environment slot for a new environment,
  // evicting idle ones (LRU) if needed; nullopt when admitted, else why it cannot fit. A
  // reservation ends with releaseAdmission().
  std::optional<std::string> admit(int memory_mb);
  // Ends a reservation made by admit() (the environment is now counted in its pool, or failed).
  void releaseAdmission(int memory_mb);
  // Shuts down the least recently used idle (not provisioned) environment of any function;
  // false if there is none. `why` goes to the log line. Thread-safe.
  bool evictIdle(std::string_view why);
  void scheduleReaper();

  boost::asio::io_context& io_;
  sandbox::Sandbox& sandbox_;
  observe::LogStore& logs_;
  observe::MetricsRegistry& metrics_;
  const RuntimeCatalog& catalog_;
  const Clock& clock_;
  Timers& timers_;
  const EngineOptions options_;
  std::atomic<uint64_t> next_env_id_{1};
  std::mutex admission_mu_;     // serialises admit()
  int64_t admitting_mb_ = 0;    // admitted, not yet in a pool's `all`; guarded by admission_mu_
  int64_t admitting_count_ = 0;  // environments admitted so; guarded by admission_mu_
  std::atomic<bool> stopping_{false};
  TimerId reaper_ = 0;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>, std::less<>> pools_;  // guarded by mu_
  // Per-function Java archives; null without options_.java_cache_dir or an isolating sandbox.
  // Thread-safe itself; destroyed (its runs stopped) before the sandbox it spawns in.
  std::unique_ptr<JavaTrainer> java_trainer_;
  // Node bootstrap snapshots; null without options_.node_snapshot_dir or with fast start off
  // for the whole daemon. Thread-safe itself.
  std::unique_ptr<NodeSnapshots> node_snapshots_;
};

}  // namespace kindling::scheduler
