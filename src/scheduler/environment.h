// One execution environment and its life cycle: a runtime process, the invocation it is running,
// and the state machine that Lambda's Runtime API implies. Everything here is logic: the process,
// clock, timers and log stream come in through the constructor, and I/O events (the runtime's
// HTTP requests, process exit, captured output) are delivered as method calls, so unit tests
// drive it with fakes.
//
//   Initializing --/next--> Idle <--/next-- Busy(responded)
//        |                   |  dispatch()     ^
//        |                   +-------------> Busy --/response|/error--> Busy(responded)
//        +--exit/init timeout--> Dead <--exit/timeout/kill-- (any)
//
// SnapStart (a published version with SnapStart on): Initializing also covers the snap-start
// flow. The runtime ends its init with GET /restore/next, which is held at the "snapshot point"
// until restore() (Hooks::on_snapshot_point decides when: a snapshot mechanism takes its
// snapshot there; without one the environment is restored at once); the runtime then runs its
// after-restore hooks and its first /next ends the phase. The first REPORT shows Restore
// Duration (spawn to first /next: creation, init, hooks, restore) instead of Init Duration.
// POST /restore/error fails the environment with Runtime.AfterRestoreError.
//
// Thread-safety: every public method may be called from any thread; one mutex guards the state,
// and callbacks (the caller's done(), the runtime's /next delivery, pool notifications) run
// after it is released.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "observe/log_stream.h"
#include "runtime_api/server.h"
#include "sandbox/sandbox.h"
#include "scheduler/invocation.h"
#include "scheduler/timers.h"
#include "store/function.h"

namespace kindling::scheduler {

enum class EnvState { Starting, Initializing, Idle, Busy, Dead };
const char* envStateName(EnvState state);

struct EnvironmentOptions {
  Clock::Duration init_timeout = std::chrono::seconds(10);
  size_t log_tail_bytes = 4096;
  // How long an invocation queued on an environment that has answered waits for the runtime's
  // next /next before it goes elsewhere (a cold start). 1 s: a runtime whose CPU quota is spent
  // (small MemorySize after a CPU-heavy invocation) can take a few CFS periods to poll again,
  // and Lambda reuses the environment for back-to-back invocations in that case too.
  Clock::Duration queue_wait = std::chrono::seconds(1);
  // An idle environment is frozen (no CPU at all) once it has been idle this long; the next
  // invocation thaws it. Zero or negative: never freeze. Lambda freezes at once; a short
  // grace keeps back-to-back invocations off the thaw cost (~4 ms on cgroup v1 here).
  Clock::Duration freeze_after = std::chrono::seconds(1);
};

class Environment : public runtime_api::Backend,
                    public std::enable_shared_from_this<Environment> {
 public:
  // Callbacks into the owner (the function's pool); called without the env lock held.
  struct Hooks {
    std::function<void(const std::shared_ptr<Environment>&)> on_idle;
    std::function<void(const std::shared_ptr<Environment>&)> on_dead;
    std::function<void(EnvState from, EnvState to)> on_state;  // metrics
    // The runtime answered and will call /next soon: the env can take a queued invocation.
    std::function<void(const std::shared_ptr<Environment>&)> on_returning;
    // A queued invocation could not run here (env died, or /next did not come in time).
    std::function<void(InvokeRequest&&)> on_requeue;
    // SnapStart: the runtime of a snap-start environment has finished its init and its
    // before-snapshot hooks and waits in GET /restore/next: the point where a snapshot of it
    // can be taken. The owner calls env->restore() when the environment is to run as restored
    // (at once, or after a snapshot was taken and restored). Unset: restored at once.
    std::function<void(const std::shared_ptr<Environment>&)> on_snapshot_point;
  };

  Environment(uint64_t id, std::shared_ptr<const store::FunctionConfig> config,
              std::string log_stream_name, std::unique_ptr<observe::LogStream> log,
              const Clock& clock, Timers& timers, Hooks hooks, EnvironmentOptions options = {});
  ~Environment() override;

  // Begins a cold start for `first`: the init phase runs from `spawn_started` (taken before the
  // process is spawned, so Init Duration includes exec and runtime start-up) until the runtime's
  // first /next, which may arrive before attach(). Without `first` (provisioned concurrency)
  // the environment goes Idle after init and its first invocation is warm (no Init Duration).
  // `init_timeout` overrides the options' (provisioned environments get max(130 s, timeout)).
  void begin(std::optional<InvokeRequest> first, Clock::TimePoint spawn_started,
             std::optional<Clock::Duration> init_timeout = std::nullopt);
  // Takes ownership of the started process.
  void attach(std::unique_ptr<sandbox::SandboxProcess> process);
  // The process could not be started: fails the pending invocation with this error.
  void abandon(std::string_view error_type, const std::string& message);
  // Hands a warm invocation to an Idle environment; false if it is no longer Idle (the caller
  // then places the invocation elsewhere).
  bool dispatch(InvokeRequest& request);
  // Queues a warm invocation on an environment whose runtime has answered but not yet called
  // /next again (the gap between a response and the next poll, a few ms for Python or Node);
  // false if it cannot take one. If /next does not come within `queue_wait`, or the env dies,
  // the request goes back through Hooks::on_requeue.
  bool enqueue(InvokeRequest& request);
  // The process has exited (its exit fd became readable).
  // Returns false (and changes nothing) when the process has not actually exited: the caller
  // checks again later.
  bool onProcessExit();
  // Output captured from the runtime's stdout/stderr.
  void onOutput(std::string_view data);
  // Kills the environment (keep-alive expiry, function deletion, shutdown). An invocation in
  // flight fails with `reason` as a Runtime.ExitError-style message.
  void shutdown();
  // Synchronously pulls what the runtime already wrote to its pipes (set by the wiring).
  void setOutputDrain(std::function<void()> drain);
  // SnapStart: releases a snap-start environment held at its snapshot point (answers its
  // GET /restore/next; the runtime then runs its after-restore hooks and polls /next). No-op
  // unless it is held there. Thread-safe.
  void restore();
  // Whether this environment goes through the snap-start flow (a published version with
  // SnapStart on: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start). Thread-safe (immutable).
  bool snapStart() const { return snap_start_; }

  // runtime_api::Backend
  void onNext(std::function<void(runtime_api::NextInvocation&&)> deliver) override;
  runtime_api::PostOutcome onResponse(const std::string& request_id, std::string&& body) override;
  runtime_api::PostOutcome onError(const std::string& request_id, std::string&& body,
                                   const std::string& error_type) override;
  runtime_api::PostOutcome onResponseTooLarge(const std::string& request_id,
                                              uint64_t size) override;
  runtime_api::PostOutcome onInitError(std::string&& body, const std::string& error_type) override;
  std::optional<runtime_api::PostOutcome> onRestoreNext(std::function<void()> restored) override;
  runtime_api::PostOutcome onRestoreError(std::string&& body,
                                          const std::string& error_type) override;

  uint64_t id() const { return id_; }
  // True while the environment's processes are frozen (idle past freeze_after).
  bool frozen() const;
  EnvState state() const;
  const std::string& logStreamName() const { return log_stream_name_; }
  Clock::TimePoint lastUsed() const;
  const std::shared_ptr<const store::FunctionConfig>& config() const { return config_; }
  pid_t pid() const;
  // Reads the environment's memory use now and keeps it as its idle footprint (the engine's
  // memory budget counts idle environments by this sample). Thread-safe.
  void sampleIdleMemory();
  // The last sample, bytes (0 before the first). Thread-safe.
  uint64_t idleMemoryBytes() const { return idle_memory_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Current {
    InvokeRequest request;
    Clock::TimePoint started;
    TimerId timer = 0;
    bool responded = false;
    bool cold = false;
    std::string tail;
  };
  using Deliver = std::function<void(runtime_api::NextInvocation&&)>;
  // Deferred work collected under the lock and run after it is released.
  struct After {
    std::function<void()> deliver;
    std::optional<std::pair<std::function<void(InvokeResult&&)>, InvokeResult>> done;
    bool idle = false;
    bool dead = false;
    std::optional<std::pair<EnvState, EnvState>> state_change;
    bool returning = false;
    std::optional<InvokeRequest> requeue;
    bool snapshot_point = false;  // call Hooks::on_snapshot_point (or restore())
  };
  // Where a snap-start environment is in its flow (lambda-interfaces.md §1.7):
  // Init --GET /restore/next--> Snapshot --restore()--> Restoring --first /next--> Restored.
  enum class SnapPhase { Init, Snapshot, Restoring, Restored };

  void setState(EnvState to, After& after);
  // Moves the pending invocation into `current_` and prepares its /next answer.
  void beginInvocation(InvokeRequest&& request, bool cold, Deliver deliver, After& after);
  // Completes the current invocation (REPORT line, caller's answer).
  void finishInvocation(InvokeResult&& result, After& after, const std::string& trailer_line = {});
  void failCurrent(std::string_view error_type, std::string message, After& after);
  void kill(After& after);
  // Arms the freeze timer of an environment that just became idle.
  void scheduleFreeze();
  // The init phase ends with this /next: deliver the pending invocation or go idle.
  void completeInit(Deliver deliver, After& after);
  void appendLog(std::string_view data);
  // Pulls what the runtime already wrote (so it precedes END/REPORT). Call without mu_ held.
  void drainOutput();
  void run(After& after);
  InvokeResult errorResult(std::string_view error_type, const std::string& message) const;

  const uint64_t id_;
  const std::shared_ptr<const store::FunctionConfig> config_;
  const std::string log_stream_name_;
  std::unique_ptr<observe::LogStream> log_;
  const Clock& clock_;
  Timers& timers_;
  const Hooks hooks_;
  const EnvironmentOptions options_;
  const bool snap_start_;  // store::snapStartOn(*config_)

  mutable std::mutex mu_;
  EnvState state_ = EnvState::Starting;                 // guarded by mu_
  std::unique_ptr<sandbox::SandboxProcess> process_;    // guarded by mu_
  std::optional<InvokeRequest> pending_;                // cold invocation awaiting init
  std::optional<Current> current_;                      // guarded by mu_
  Deliver parked_;                                      // a /next waiting for work
  Clock::TimePoint spawned_at_{};
  std::optional<double> init_duration_ms_;              // reported on the first invocation
  TimerId init_timer_ = 0;
  std::optional<std::string> init_error_;               // body posted to /init/error
  std::string init_error_type_;                         // its error-type header, if any
  bool init_timed_out_ = false;
  Clock::TimePoint last_used_{};
  std::function<void()> drain_;
  Deliver early_next_;                                  // first /next before attach()
  std::string init_tail_;                               // init output, for a failed init
  std::optional<InvokeRequest> queued_;                 // waits for the runtime's next /next
  TimerId queue_timer_ = 0;
  TimerId freeze_timer_ = 0;
  bool frozen_ = false;
  std::atomic<uint64_t> idle_memory_bytes_{0};
  // SnapStart (guarded by mu_): the phase, the held GET /restore/next answer, whether the
  // snapshot point waits for attach(), and the body posted to /restore/error.
  SnapPhase snap_phase_ = SnapPhase::Init;
  std::function<void()> restore_waiter_;
  bool snapshot_after_attach_ = false;
  std::optional<std::string> restore_error_;
};

}  // namespace kindling::scheduler
