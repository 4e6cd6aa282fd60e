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
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "observe/log_store.h"
#include "observe/metrics.h"
#include "sandbox/sandbox.h"
#include "scheduler/environment.h"
#include "scheduler/invocation.h"
#include "scheduler/runtime_catalog.h"
#include "scheduler/timers.h"

namespace kindling::scheduler {

struct EngineOptions {
  Clock::Duration keep_alive = std::chrono::minutes(10);
  Clock::Duration reap_interval = std::chrono::seconds(5);
  std::string region = "us-east-1";
  std::string runtime_api_host = "127.0.0.1";
  EnvironmentOptions environment;
};

class Engine {
 public:
  Engine(boost::asio::io_context& io, sandbox::Sandbox& sandbox, observe::LogStore& logs,
         observe::MetricsRegistry& metrics, const RuntimeCatalog& catalog, const Clock& clock,
         Timers& timers, EngineOptions options);
  ~Engine();

  // Runs one invocation; request.done is called exactly once. Thread-safe.
  void invoke(std::shared_ptr<const store::FunctionConfig> config,
              std::filesystem::path code_dir, InvokeRequest request);
  // Stops every environment of a function (deletion). Thread-safe.
  void removeFunction(const std::string& name);
  // Stops every environment; in-flight invocations fail cleanly. Thread-safe.
  void shutdown();
  // Stops idle environments unused for longer than the keep-alive (also run periodically).
  void reapIdle();

  struct Wiring;
  class Pool;

 private:
  std::shared_ptr<Pool> poolFor(const std::shared_ptr<const store::FunctionConfig>& config);
  // Warm if an environment is idle (or about to be), else cold.
  void place(const std::shared_ptr<Pool>& pool, std::filesystem::path code_dir,
             InvokeRequest request);
  void startCold(const std::shared_ptr<Pool>& pool, std::filesystem::path code_dir,
                 InvokeRequest request);
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
  std::atomic<bool> stopping_{false};
  TimerId reaper_ = 0;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>, std::less<>> pools_;  // guarded by mu_
};

}  // namespace kindling::scheduler
