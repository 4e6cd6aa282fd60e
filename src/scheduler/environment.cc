#include "scheduler/environment.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "observe/report.h"
#include "runtime_api/wire.h"
#include "sys/process.h"

namespace kindling::scheduler {

namespace rapi = kindling::runtime_api;

const char* envStateName(EnvState state) {
  switch (state) {
    case EnvState::Starting: return "starting";
    case EnvState::Initializing: return "initializing";
    case EnvState::Idle: return "idle";
    case EnvState::Busy: return "busy";
    case EnvState::Dead: return "dead";
  }
  return "?";
}

namespace {

std::string jsonError(std::string_view type, const std::string& message) {
  nlohmann::json j;
  j["errorType"] = type;
  j["errorMessage"] = message;
  return j.dump();
}

// errorType of a runtime's error body, for metrics; falls back to the header, then "Unhandled".
std::string errorTypeOf(const std::string& body, const std::string& header_type) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto it = j.find("errorType");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return header_type.empty() ? "Unhandled" : header_type;
}

// The invoke answer when an after-restore hook failed: the runtime's error JSON (message and
// stack trace kept) under errorType Runtime.AfterRestoreError, as AWS reports it.
InvokeResult restoreErrorResult(const std::string& body) {
  InvokeResult result;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) {
    j = nlohmann::json::object();
    j["errorMessage"] = body;
  }
  j["errorType"] = rapi::kFnAfterRestoreError;
  result.payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  result.function_error = true;
  result.error_type = std::string(rapi::kFnAfterRestoreError);
  return result;
}

rapi::PostOutcome badRequestId() {
  return {400, std::string(rapi::kErrInvalidRequestId), "Invalid request ID"};
}

rapi::PostOutcome badTransition(std::string_view from, std::string_view to) {
  return {403, std::string(rapi::kErrInvalidStateTransition),
          "State transition from " + std::string(from) + " to " + std::string(to) +
              " failed for runtime. Error: State transition is not allowed"};
}

}  // namespace

Environment::Environment(uint64_t id, std::shared_ptr<const store::FunctionConfig> config,
                         std::string log_stream_name, std::unique_ptr<observe::LogStream> log,
                         const Clock& clock, Timers& timers, Hooks hooks,
                         EnvironmentOptions options)
    : id_(id),
      config_(std::move(config)),
      log_stream_name_(std::move(log_stream_name)),
      log_(std::move(log)),
      clock_(clock),
      timers_(timers),
      hooks_(std::move(hooks)),
      options_(options),
      snap_start_(store::snapStartOn(*config_)) {}

Environment::~Environment() {
  if (init_timer_) timers_.cancel(init_timer_);
  if (freeze_timer_) timers_.cancel(freeze_timer_);
  if (queue_timer_) timers_.cancel(queue_timer_);
  if (current_ && current_->timer) timers_.cancel(current_->timer);
}

EnvState Environment::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool Environment::frozen() const {
  std::lock_guard lock(mu_);
  return frozen_;
}

void Environment::scheduleFreeze() {
  if (options_.freeze_after <= Clock::Duration::zero() || !process_ || !process_->canFreeze()) {
    return;
  }
  if (freeze_timer_) timers_.cancel(freeze_timer_);
  std::weak_ptr<Environment> weak = weak_from_this();
  freeze_timer_ = timers_.schedule(options_.freeze_after, [weak] {
    auto self = weak.lock();
    if (!self) return;
    std::lock_guard lock(self->mu_);
    self->freeze_timer_ = 0;
    if (self->state_ != EnvState::Idle || self->frozen_ || !self->process_) return;
    if (auto st = self->process_->freeze(); st) {
      self->frozen_ = true;
    }
  });
}

Clock::TimePoint Environment::lastUsed() const {
  std::lock_guard lock(mu_);
  return last_used_;
}

pid_t Environment::pid() const {
  std::lock_guard lock(mu_);
  return process_ ? process_->pid() : -1;
}

void Environment::drainOutput() {
  std::function<void()> drain;
  {
    std::lock_guard lock(mu_);
    drain = drain_;
  }
  if (drain) drain();  // outside the lock: it calls onOutput()
}

void Environment::setOutputDrain(std::function<void()> drain) {
  std::lock_guard lock(mu_);
  drain_ = std::move(drain);
}

void Environment::setState(EnvState to, After& after) {
  if (state_ == to) return;
  after.state_change = after.state_change ? std::make_pair(after.state_change->first, to)
                                          : std::make_pair(state_, to);
  if (to == EnvState::Dead) {
    after.dead = true;
    // A dead environment keeps no timers (the init timer outlived an exit during init).
    if (init_timer_) {
      timers_.cancel(init_timer_);
      init_timer_ = 0;
    }
    if (queued_) {
      after.requeue = std::move(queued_);
      queued_.reset();
    }
    if (queue_timer_) {
      timers_.cancel(queue_timer_);
      queue_timer_ = 0;
    }
    if (freeze_timer_) {
      timers_.cancel(freeze_timer_);
      freeze_timer_ = 0;
    }
  }
  state_ = to;
}

void Environment::run(After& after) {
  if (after.state_change && hooks_.on_state) {
    hooks_.on_state(after.state_change->first, after.state_change->second);
  }
  if (after.deliver) after.deliver();
  auto self = shared_from_this();
  if (after.snapshot_point && !after.dead) {
    if (hooks_.on_snapshot_point) {
      hooks_.on_snapshot_point(self);
    } else {
      restore();  // no snapshot mechanism: the environment runs on as "restored" at once
    }
  }
  // The pool learns that this environment is about to take work again before the caller gets
  // its answer: a client that sends its next request at once must find it (not start a cold
  // environment because the answer overtook the pool's bookkeeping).
  if (after.returning && !after.dead && hooks_.on_returning) hooks_.on_returning(self);
  if (after.done) after.done->first(std::move(after.done->second));
  if (after.idle && !after.dead && hooks_.on_idle) hooks_.on_idle(self);
  if (after.dead && hooks_.on_dead) hooks_.on_dead(self);
  if (after.requeue && hooks_.on_requeue) hooks_.on_requeue(std::move(*after.requeue));
}

void Environment::appendLog(std::string_view data) {
  if (log_) log_->append(data);
  if (state_ == EnvState::Initializing && !current_) {
    // Output of the init phase: shown in the tail of the invocation if init fails.
    init_tail_.append(data);
    if (init_tail_.size() > 2 * options_.log_tail_bytes) {
      init_tail_.erase(0, init_tail_.size() - options_.log_tail_bytes);
    }
    return;
  }
  if (current_ && !current_->responded && current_->request.want_log_tail) {
    current_->tail.append(data);
    // Keep the tail bounded: trim to the last log_tail_bytes once it doubles.
    if (current_->tail.size() > 2 * options_.log_tail_bytes) {
      current_->tail.erase(0, current_->tail.size() - options_.log_tail_bytes);
    }
  }
}

void Environment::begin(std::optional<InvokeRequest> first, Clock::TimePoint spawn_started,
                        std::optional<Clock::Duration> init_timeout) {
  After after;
  {
    std::lock_guard lock(mu_);
    spawned_at_ = spawn_started;
    last_used_ = spawn_started;
    pending_ = std::move(first);
    setState(EnvState::Initializing, after);
    std::weak_ptr<Environment> weak = weak_from_this();
    init_timer_ = timers_.schedule(init_timeout.value_or(options_.init_timeout), [weak] {
      auto self = weak.lock();
      if (!self) return;
      After late;
      {
        std::lock_guard lock2(self->mu_);
        self->init_timer_ = 0;
        if (self->state_ != EnvState::Initializing) return;
        self->init_timed_out_ = true;
        self->kill(late);
      }
      self->run(late);
    });
  }
  run(after);
}

void Environment::attach(std::unique_ptr<sandbox::SandboxProcess> process) {
  After after;
  {
    std::lock_guard lock(mu_);
    process_ = std::move(process);
    if (state_ == EnvState::Dead) {
      process_->kill();
      early_next_ = nullptr;
    } else if (early_next_ && state_ == EnvState::Initializing) {
      completeInit(std::move(early_next_), after);
      early_next_ = nullptr;
    } else if (snapshot_after_attach_ && state_ == EnvState::Initializing) {
      after.snapshot_point = true;
    }
    snapshot_after_attach_ = false;
  }
  run(after);
}

void Environment::completeInit(Deliver deliver, After& after) {
  // SnapStart: spawn to first /next is the Restore Duration (environment creation, init,
  // before-snapshot hooks, restore, after-restore hooks: there is no separate restore yet).
  init_duration_ms_ = toMillis(clock_.now() - spawned_at_);
  if (snap_start_) snap_phase_ = SnapPhase::Restored;
  if (process_) process_->onInitDone();
  if (init_timer_) {
    timers_.cancel(init_timer_);
    init_timer_ = 0;
  }
  if (pending_) {
    InvokeRequest first = std::move(*pending_);
    pending_.reset();
    init_tail_.clear();
    beginInvocation(std::move(first), true, std::move(deliver), after);
  } else {
    parked_ = std::move(deliver);
    setState(EnvState::Idle, after);
    after.idle = true;
    scheduleFreeze();
  }
}

void Environment::abandon(std::string_view error_type, const std::string& message) {
  After after;
  {
    std::lock_guard lock(mu_);
    if (init_timer_) {
      timers_.cancel(init_timer_);
      init_timer_ = 0;
    }
    if (pending_) {
      InvokeRequest first = std::move(*pending_);
      pending_.reset();
      after.done.emplace(std::move(first.done), errorResult(error_type, message));
    }
    parked_ = nullptr;
    setState(EnvState::Dead, after);
  }
  run(after);
}

void Environment::beginInvocation(InvokeRequest&& request, bool cold, Deliver deliver,
                                  After& after) {
  const auto now = clock_.now();
  last_used_ = now;
  rapi::NextInvocation next;
  next.request_id = request.request_id;
  next.deadline_epoch_ms = clock_.epochMillis() + int64_t{config_->timeout_s} * 1000;
  next.invoked_function_arn = request.invoked_function_arn;
  next.trace_id = request.trace_id;
  next.client_context = request.client_context;
  next.cognito_identity = request.cognito_identity;
  next.payload = std::move(request.payload);

  current_.emplace();
  current_->request = std::move(request);
  current_->started = now;
  current_->cold = cold;
  appendLog(observe::formatStartLine(current_->request.request_id, config_->version));

  std::weak_ptr<Environment> weak = weak_from_this();
  const std::string request_id = current_->request.request_id;
  current_->timer =
      timers_.schedule(std::chrono::seconds(config_->timeout_s), [weak, request_id] {
        auto self = weak.lock();
        if (!self) return;
        self->drainOutput();
        After late;
        {
          std::lock_guard lock(self->mu_);
          if (!self->current_ || self->current_->responded ||
              self->current_->request.request_id != request_id) {
            return;
          }
          self->current_->timer = 0;
          char seconds[32];
          std::snprintf(seconds, sizeof seconds, "%d.00", self->config_->timeout_s);
          InvokeResult result = self->errorResult(
              rapi::kFnTimeout,
              "RequestId: " + request_id + " Error: Task timed out after " + seconds + " seconds");
          self->finishInvocation(std::move(result), late,
                                 observe::formatTimeoutLine(self->clock_.epochMillis(), request_id,
                                                            self->config_->timeout_s));
          self->kill(late);
        }
        self->run(late);
      });
  after.deliver = [deliver = std::move(deliver), next = std::move(next)]() mutable {
    deliver(std::move(next));
  };
  setState(EnvState::Busy, after);
}

InvokeResult Environment::errorResult(std::string_view error_type,
                                      const std::string& message) const {
  InvokeResult result;
  result.payload = jsonError(error_type, message);
  result.function_error = true;
  result.error_type = std::string(error_type);
  return result;
}

void Environment::finishInvocation(InvokeResult&& result, After& after,
                                   const std::string& trailer_line) {
  Current& cur = *current_;
  const auto now = clock_.now();
  if (cur.timer) {
    timers_.cancel(cur.timer);
    cur.timer = 0;
  }
  result.duration_ms = toMillis(now - cur.started);
  const uint64_t peak = process_ ? process_->peakMemoryBytes() : 0;
  result.max_memory_used_mb = static_cast<int>((peak + (1 << 20) - 1) >> 20);
  result.cold = cur.cold;
  if (cur.cold) {
    (snap_start_ ? result.restore_duration_ms : result.init_duration_ms) = init_duration_ms_;
  }
  appendLog(observe::formatEndLine(cur.request.request_id));
  observe::ReportLine report;
  report.request_id = cur.request.request_id;
  report.duration_ms = result.duration_ms;
  report.memory_size_mb = config_->memory_mb;
  report.max_memory_used_mb = result.max_memory_used_mb;
  report.init_duration_ms = result.init_duration_ms;
  if (result.restore_duration_ms) {
    // Billing: with no snapshot cached (and paid for) at publish, everything the restore
    // measured ran for this environment alone and is billed.
    report.restore_duration_ms = result.restore_duration_ms;
    report.billed_restore_ms = *result.restore_duration_ms;
  }
  appendLog(observe::formatReportLine(report));
  if (!trailer_line.empty()) appendLog(trailer_line);
  if (cur.request.want_log_tail) {
    const size_t n = std::min(cur.tail.size(), options_.log_tail_bytes);
    result.log_tail = cur.tail.substr(cur.tail.size() - n);
  }
  cur.responded = true;
  last_used_ = now;
  after.returning = true;
  after.done.emplace(std::move(cur.request.done), std::move(result));
}

void Environment::failCurrent(std::string_view error_type, std::string message, After& after) {
  appendLog(message + "\n" + std::string(error_type) + "\n");
  finishInvocation(errorResult(error_type, message), after);
}

void Environment::kill(After& after) {
  if (process_) process_->kill();
  parked_ = nullptr;
  early_next_ = nullptr;
  restore_waiter_ = nullptr;
  setState(EnvState::Dead, after);
}

bool Environment::enqueue(InvokeRequest& request) {
  std::lock_guard lock(mu_);
  if (state_ != EnvState::Busy || !current_ || !current_->responded || queued_) return false;
  queued_ = std::move(request);
  std::weak_ptr<Environment> weak = weak_from_this();
  queue_timer_ = timers_.schedule(options_.queue_wait, [weak] {
    auto self = weak.lock();
    if (!self) return;
    After late;
    {
      std::lock_guard lock2(self->mu_);
      self->queue_timer_ = 0;
      if (!self->queued_) return;
      late.requeue = std::move(self->queued_);
      self->queued_.reset();
    }
    self->run(late);
  });
  return true;
}

bool Environment::dispatch(InvokeRequest& request) {
  After after;
  {
    std::lock_guard lock(mu_);
    if (state_ != EnvState::Idle || !parked_) return false;
    if (freeze_timer_) {
      timers_.cancel(freeze_timer_);
      freeze_timer_ = 0;
    }
    if (frozen_) {
      if (auto st = process_->thaw(); !st) return false;  // placed elsewhere; env reaped later
      frozen_ = false;
    }
    beginInvocation(std::move(request), false, std::move(parked_), after);
    parked_ = nullptr;
  }
  run(after);
  return true;
}

void Environment::onNext(Deliver deliver) {
  After after;
  {
    std::lock_guard lock(mu_);
    switch (state_) {
      case EnvState::Starting:
      case EnvState::Initializing:
        if (restore_error_) {
          // An after-restore hook failed: this environment never serves (the runtime should
          // have exited; the cold invocation gets the restore error when it does).
          if (process_) process_->kill();
          return;
        }
        if (!process_) {
          // The runtime is faster than the engine's wiring: hold its first /next until the
          // process is attached (so its output and memory are measured from the start).
          early_next_ = std::move(deliver);
          return;
        }
        completeInit(std::move(deliver), after);
        break;
      case EnvState::Busy:
        if (current_ && current_->responded) {
          current_.reset();
          if (queued_) {
            if (queue_timer_) {
              timers_.cancel(queue_timer_);
              queue_timer_ = 0;
            }
            InvokeRequest next = std::move(*queued_);
            queued_.reset();
            beginInvocation(std::move(next), false, std::move(deliver), after);
            break;
          }
          parked_ = std::move(deliver);
          setState(EnvState::Idle, after);
          after.idle = true;
          scheduleFreeze();
        } else {
          parked_ = std::move(deliver);
        }
        break;
      case EnvState::Idle:
        parked_ = std::move(deliver);
        break;
      case EnvState::Dead:
        return;  // never answered; the connection closes with the environment
    }
  }
  run(after);
}

rapi::PostOutcome Environment::onResponse(const std::string& request_id, std::string&& body) {
  std::function<void()> drain;
  {
    std::lock_guard lock(mu_);
    drain = drain_;
  }
  if (drain) drain();  // the handler's last output precedes END/REPORT
  After after;
  {
    std::lock_guard lock(mu_);
    if (!current_ || current_->request.request_id != request_id) return badRequestId();
    if (current_->responded) {
      return badTransition("RuntimeResponseSentState", "InvocationResponse");
    }
    InvokeResult result;
    result.payload = std::move(body);
    finishInvocation(std::move(result), after);
  }
  run(after);
  return rapi::PostOutcome::accepted();
}

rapi::PostOutcome Environment::onError(const std::string& request_id, std::string&& body,
                                       const std::string& error_type) {
  drainOutput();
  After after;
  {
    std::lock_guard lock(mu_);
    if (!current_ || current_->request.request_id != request_id) return badRequestId();
    if (current_->responded) {
      return badTransition("RuntimeResponseSentState", "InvocationErrorResponse");
    }
    InvokeResult result;
    result.error_type = errorTypeOf(body, error_type);
    result.payload = std::move(body);
    result.function_error = true;
    finishInvocation(std::move(result), after);
  }
  run(after);
  return rapi::PostOutcome::accepted();
}

rapi::PostOutcome Environment::onResponseTooLarge(const std::string& request_id, uint64_t size) {
  After after;
  {
    std::lock_guard lock(mu_);
    if (current_ && current_->request.request_id == request_id && !current_->responded) {
      appendLog("Response payload size (" + std::to_string(size) +
                " bytes) exceeded maximum allowed payload size (6291556 bytes).\n");
      finishInvocation(
          errorResult(rapi::kFnResponseTooLarge,
                      "Response payload size exceeded maximum allowed payload size (6291556 "
                      "bytes)."),
          after);
    }
  }
  run(after);
  return {413, std::string(rapi::kErrRequestTooLarge),
          "Exceeded maximum allowed payload size (6291556 bytes)."};
}

rapi::PostOutcome Environment::onInitError(std::string&& body, const std::string& error_type) {
  std::lock_guard lock(mu_);
  if (state_ != EnvState::Initializing) return badTransition("Ready", "InitError");
  init_error_ = std::move(body);
  init_error_type_ = error_type;
  return rapi::PostOutcome::accepted();
}

std::optional<rapi::PostOutcome> Environment::onRestoreNext(std::function<void()> restored) {
  if (!snap_start_) return rapi::PostOutcome{404, std::string(rapi::kErrNotFound), "Not Found"};
  After after;
  {
    std::lock_guard lock(mu_);
    if (state_ != EnvState::Initializing || snap_phase_ != SnapPhase::Init || init_error_) {
      return badTransition(snap_phase_ == SnapPhase::Init ? "Ready" : "RestoreReady", "Restoring");
    }
    snap_phase_ = SnapPhase::Snapshot;
    restore_waiter_ = std::move(restored);
    if (process_) {
      after.snapshot_point = true;
    } else {
      snapshot_after_attach_ = true;  // like an early /next: announced once attached
    }
  }
  run(after);
  return std::nullopt;
}

void Environment::restore() {
  std::function<void()> waiter;
  {
    std::lock_guard lock(mu_);
    if (state_ != EnvState::Initializing || snap_phase_ != SnapPhase::Snapshot) return;
    snap_phase_ = SnapPhase::Restoring;
    waiter = std::move(restore_waiter_);
    restore_waiter_ = nullptr;
  }
  if (waiter) waiter();
}

rapi::PostOutcome Environment::onRestoreError(std::string&& body, const std::string& error_type) {
  if (!snap_start_) return {404, std::string(rapi::kErrNotFound), "Not Found"};
  std::lock_guard lock(mu_);
  if (state_ != EnvState::Initializing || snap_phase_ != SnapPhase::Restoring) {
    return badTransition(snap_phase_ == SnapPhase::Restored ? "Ready" : "RestoreReady",
                         "RestoreError");
  }
  (void)error_type;  // the platform's type is Runtime.AfterRestoreError whatever was sent
  restore_error_ = std::move(body);
  return rapi::PostOutcome::accepted();
}

void Environment::onOutput(std::string_view data) {
  std::lock_guard lock(mu_);
  appendLog(data);
}

bool Environment::onProcessExit() {
  {
    std::lock_guard lock(mu_);
    if (process_ && !process_->exited()) return false;
  }
  drainOutput();
  After after;
  {
    std::lock_guard lock(mu_);
    if (!process_) return true;
    auto status = process_->reap();
    const bool oom = process_->oomKilled();
    std::string reason;
    std::string_view type = rapi::kFnExitError;
    if (oom) {
      type = rapi::kFnOutOfMemory;
      reason = "Runtime exited with error: signal: killed";
    } else if (!status) {
      reason = "Runtime exited with error: " + status.error().message();
    } else if (!status->signaled && status->code == 0) {
      reason = "Runtime exited without providing a reason";
    } else {
      reason = "Runtime exited with error: " + sys::describeExit(*status);
    }
    if (pending_) {
      // Init failed: the cold invocation gets the init error (verbatim if posted).
      InvokeRequest first = std::move(*pending_);
      pending_.reset();
      const double init_ms = toMillis(clock_.now() - spawned_at_);
      init_duration_ms_ = init_ms;
      current_.emplace();
      current_->request = std::move(first);
      current_->started = clock_.now();
      current_->cold = true;
      current_->tail = std::move(init_tail_);
      InvokeResult result;
      std::string init_type;
      if (restore_error_) {
        init_type = std::string(rapi::kFnAfterRestoreError);
        result = restoreErrorResult(*restore_error_);
      } else if (init_error_) {
        init_type = errorTypeOf(*init_error_,
                                init_error_type_.empty() ? "Runtime.Unknown" : init_error_type_);
        result.payload = *init_error_;
        result.function_error = true;
        result.error_type = init_type;
      } else if (init_timed_out_) {
        init_type = std::string(rapi::kFnTimeout);
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.2f",
                      std::chrono::duration<double>(options_.init_timeout).count());
        result = errorResult(rapi::kFnTimeout, "RequestId: " + current_->request.request_id +
                                                   " Error: Init phase timed out after " +
                                                   seconds + " seconds");
      } else {
        init_type = std::string(type);
        result = errorResult(type, "RequestId: " + current_->request.request_id +
                                       " Error: " + reason);
      }
      char init_line[256];
      if (snap_start_ && snap_phase_ != SnapPhase::Init) {
        std::snprintf(init_line, sizeof init_line,
                      "RESTORE_REPORT Restore Duration: %.2f ms\tStatus: %s\tError Type: %s\n",
                      init_ms, init_timed_out_ ? "timeout" : "error", init_type.c_str());
      } else {
        std::snprintf(init_line, sizeof init_line,
                      "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: %s\t"
                      "Error Type: %s\n",
                      init_ms, init_timed_out_ ? "timeout" : "error", init_type.c_str());
      }
      appendLog(init_line);
      appendLog(observe::formatStartLine(current_->request.request_id, config_->version));
      finishInvocation(std::move(result), after);
    } else if (current_ && !current_->responded) {
      failCurrent(type, "RequestId: " + current_->request.request_id + " Error: " + reason,
                  after);
    }
    parked_ = nullptr;
    process_.reset();
    setState(EnvState::Dead, after);
  }
  run(after);
  return true;
}

void Environment::shutdown() {
  After after;
  {
    std::lock_guard lock(mu_);
    if (state_ == EnvState::Dead) return;
    if (current_ && !current_->responded) {
      failCurrent(rapi::kFnExitError,
                  "RequestId: " + current_->request.request_id +
                      " Error: Runtime exited with error: signal: killed",
                  after);
    }
    if (pending_) {
      InvokeRequest first = std::move(*pending_);
      pending_.reset();
      InvokeResult result = errorResult(
          rapi::kFnExitError,
          "RequestId: " + first.request_id + " Error: Runtime exited with error: signal: killed");
      after.done.emplace(std::move(first.done), std::move(result));
    }
    kill(after);
  }
  run(after);
}

void Environment::sampleIdleMemory() {
  std::lock_guard lock(mu_);
  if (process_) idle_memory_bytes_.store(process_->currentMemoryBytes(), std::memory_order_relaxed);
}

}  // namespace kindling::scheduler
