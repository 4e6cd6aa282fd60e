// Asynchronous (Event) invocation: one delivery thread moves events from the durable EventQueue
// to the FunctionInvoker, up to `max_in_flight` invocations at a time (never a thread per
// event), and records each outcome the way Lambda does:
//   success            -> OnSuccess destination (invocation record), event deleted;
//   function error     -> retried after retry_delay, then 2 x retry_delay, up to the qualifier's
//                         MaximumRetryAttempts (0-2, default 2); then OnFailure / DLQ;
//   throttle, 5xx      -> back in the queue with exponential backoff (retry_delay/60 doubling up
//                         to 5 x retry_delay, i.e. 1 s .. 5 min at Lambda's scale), attempts kept;
//   event too old      -> (MaximumEventAgeInSeconds, default 21600) OnFailure / DLQ;
//   reserved conc. 0   -> OnFailure / DLQ at once, no retries;
//   function gone      -> dropped (logged).
// An event is deleted only after its outcome was recorded (destination message committed), so a
// crash anywhere delivers it again after a restart (at least once). Destinations: a Lambda
// function ARN gets the record as a new Event invocation, an SQS ARN a QueueStore message;
// failures go to OnFailure and to the function's DeadLetterConfig (the bare event) when set.
//
// Threads: outcomes arrive on any thread (invoker callbacks) and are only queued there; all
// SQLite work and every decision runs on the delivery thread (or the caller of runOnce() in
// tests, with a fake clock and a scripted invoker).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "async/event_queue.h"
#include "async/invoker.h"
#include "async/queue_store.h"
#include "common/clock.h"
#include "common/result.h"

namespace kindling::async {

inline constexpr int kDefaultMaxRetryAttempts = 2;
inline constexpr int kDefaultMaxEventAgeSeconds = 21600;
// Largest Event payload (AWS: 1 MB since 2025).
inline constexpr size_t kMaxEventPayloadBytes = 1048576;

struct AsyncOptions {
  // Lambda waits ~1 min before the 2nd attempt and ~2 min before the 3rd; tests shrink this.
  // The throttle backoff scales with it: retry_delay/60 .. 5 x retry_delay.
  std::chrono::milliseconds retry_delay{60000};
  size_t max_in_flight = 16;                     // invocations running at once
  std::chrono::milliseconds shutdown_grace{5000};  // stop() waits this long for in-flight ones
};

class AsyncService {
 public:
  // `events`, `queues` and `clock` must outlive the service.
  AsyncService(EventQueue& events, QueueStore& queues, const Clock& clock, AsyncOptions options);
  // Stops the delivery thread (see stop()).
  ~AsyncService();
  AsyncService(const AsyncService&) = delete;
  AsyncService& operator=(const AsyncService&) = delete;

  // Sets who runs invocations (the API service). Call once, before start() or runOnce(); the
  // invoker must outlive the service. Not thread-safe.
  void setInvoker(FunctionInvoker* invoker);
  // Durably queues an Event invocation (committed on return) and wakes the deliverer.
  // qualifier "" = $LATEST. Thread-safe.
  Status enqueue(std::string_view function, std::string_view qualifier, std::string_view payload,
                 std::string_view request_id);
  // Starts the delivery thread. Not thread-safe (call once).
  void start();
  // Stops claiming, waits up to shutdown_grace for invocations in flight to finish and records
  // their outcomes, then joins the thread. Events still in flight stay queued (redelivered after
  // a restart). Idempotent; thread-safe.
  void stop();
  // One delivery step: records the outcomes that arrived, then starts due events up to the
  // in-flight limit. Returns how long until the next event is due (nullopt: nothing due, or no
  // free slot; wait for a wake-up). Called by the delivery thread; tests call it directly
  // (without start()). Not thread-safe against itself.
  std::optional<Clock::Duration> runOnce();
  // Invocations started and not yet recorded. Thread-safe.
  size_t inFlight() const;
  // Events stored in the queue (in flight included). Thread-safe.
  size_t queued() const { return events_.size(); }
  // The stores the service was built on (both thread-safe).
  EventQueue& events() { return events_; }
  QueueStore& queues() { return queues_; }

 private:
  // State shared with invoker callbacks, which may outlive the service.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<int64_t, InvokeOutcome>> outcomes;  // guarded by mu
    bool wake = false;                                         // guarded by mu
    bool stopping = false;                                     // guarded by mu
  };
  struct Flight {
    AsyncEvent event;  // payload moved out into the invocation
    AsyncTarget target;
  };

  void deliverLoop();
  void dispatch(AsyncEvent event, int64_t now_ms);
  void record(Flight flight, InvokeOutcome outcome, int64_t now_ms);
  // Records a failed event (OnFailure record and/or DLQ message) and deletes it.
  void fail(AsyncEvent& event, const AsyncTarget& target, std::string_view condition,
            int64_t now_ms);
  // Reschedules with throttle backoff, capped at the event's age limit.
  void backoff(AsyncEvent& event, const AsyncTarget* target, int64_t now_ms);
  // Delivers a record or DLQ body to a destination ARN. Unsupported ARNs are logged and count
  // as delivered (retrying cannot help); storage errors are returned.
  Status deliver(const std::string& arn, std::string_view body, std::string_view attributes,
                 int64_t now_ms);
  // Loads the payload of an in-flight event (moved into the invocation) when a record needs it.
  std::string loadPayload(AsyncEvent& event);
  void complete(int64_t id);

  EventQueue& events_;
  QueueStore& queues_;
  const Clock& clock_;
  const AsyncOptions options_;
  FunctionInvoker* invoker_ = nullptr;                 // set before start; then read-only
  std::shared_ptr<Shared> shared_;
  std::unordered_map<int64_t, Flight> in_flight_;      // delivery thread only
  std::atomic<size_t> in_flight_count_{0};
  std::thread thread_;
  std::mutex stop_mu_;  // serialises stop()
};

}  // namespace kindling::async
