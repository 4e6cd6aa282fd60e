#include "async/async_service.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "async/destinations.h"
#include "common/strings.h"

namespace kindling::async {

namespace {

int maxRetries(const AsyncTarget& t) {
  return std::clamp(t.config.max_retry_attempts.value_or(kDefaultMaxRetryAttempts), 0, 2);
}
int64_t maxAgeMs(const AsyncTarget& t) {
  return int64_t{t.config.max_event_age_s.value_or(kDefaultMaxEventAgeSeconds)} * 1000;
}

}  // namespace

AsyncService::AsyncService(EventQueue& events, QueueStore& queues, const Clock& clock,
                           AsyncOptions options)
    : events_(events),
      queues_(queues),
      clock_(clock),
      options_(options),
      shared_(std::make_shared<Shared>()) {}

AsyncService::~AsyncService() { stop(); }

void AsyncService::setInvoker(FunctionInvoker* invoker) { invoker_ = invoker; }

Status AsyncService::enqueue(std::string_view function, std::string_view qualifier,
                             std::string_view payload, std::string_view request_id) {
  auto id = events_.enqueue(request_id, function, qualifier, payload, clock_.epochMillis());
  if (!id) return tl::unexpected(std::move(id.error()));
  {
    std::lock_guard lock(shared_->mu);
    shared_->wake = true;
  }
  shared_->cv.notify_one();
  return {};
}

void AsyncService::start() {
  KD_CHECK(invoker_ != nullptr);
  thread_ = std::thread([this] { deliverLoop(); });
}

void AsyncService::stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(shared_->mu);
    shared_->stopping = true;
  }
  shared_->cv.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t AsyncService::inFlight() const { return in_flight_count_.load(); }

void AsyncService::deliverLoop() {
  using Steady = std::chrono::steady_clock;
  std::optional<Steady::time_point> drain_deadline;
  for (;;) {
    std::optional<Clock::Duration> wait;
    bool stopping = false;
    {
      std::lock_guard lock(shared_->mu);
      stopping = shared_->stopping;
    }
    if (!stopping) {
      wait = runOnce();
    } else {
      // Draining: record outcomes of what is in flight, start nothing new.
      if (!drain_deadline) drain_deadline = Steady::now() + options_.shutdown_grace;
      std::deque<std::pair<int64_t, InvokeOutcome>> outcomes;
      {
        std::lock_guard lock(shared_->mu);
        outcomes.swap(shared_->outcomes);
      }
      const int64_t now = clock_.epochMillis();
      for (auto& [id, outcome] : outcomes) {
        auto it = in_flight_.find(id);
        if (it == in_flight_.end()) continue;
        Flight flight = std::move(it->second);
        in_flight_.erase(it);
        in_flight_count_.store(in_flight_.size());
        record(std::move(flight), std::move(outcome), now);
      }
      if (in_flight_.empty() || Steady::now() >= *drain_deadline) {
        if (!in_flight_.empty()) {
          spdlog::warn("async: stopping with {} invocations in flight; they stay queued",
                       in_flight_.size());
          for (auto& [id, flight] : in_flight_) events_.release(id, flight.event.next_attempt_ms);
          in_flight_.clear();
          in_flight_count_.store(0);
        }
        return;
      }
      wait = std::chrono::milliseconds(20);
    }
    std::unique_lock lock(shared_->mu);
    auto ready = [this, stopping] {
      return shared_->wake || !shared_->outcomes.empty() || shared_->stopping != stopping;
    };
    if (wait) {
      // Bound the sleep so a wall-clock step cannot strand a due event.
      const auto bounded = std::min<Clock::Duration>(*wait, std::chrono::seconds(1));
      shared_->cv.wait_for(lock, bounded, ready);
    } else {
      shared_->cv.wait_for(lock, std::chrono::seconds(1), ready);
    }
    shared_->wake = false;
  }
}

std::optional<Clock::Duration> AsyncService::runOnce() {
  KD_CHECK(invoker_ != nullptr);
  std::deque<std::pair<int64_t, InvokeOutcome>> outcomes;
  {
    std::lock_guard lock(shared_->mu);
    outcomes.swap(shared_->outcomes);
    shared_->wake = false;
  }
  int64_t now = clock_.epochMillis();
  for (auto& [id, outcome] : outcomes) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) continue;
    Flight flight = std::move(it->second);
    in_flight_.erase(it);
    in_flight_count_.store(in_flight_.size());
    record(std::move(flight), std::move(outcome), now);
  }
  // Claim and dispatch until no slot or nothing due. Dispatch may complete an event at once
  // (dropped, too old, reserved 0) and so free the slot again.
  for (;;) {
    const size_t free = options_.max_in_flight > in_flight_.size()
                            ? options_.max_in_flight - in_flight_.size()
                            : 0;
    if (free == 0) return std::nullopt;
    now = clock_.epochMillis();
    auto claimed = events_.claimDue(now, free);
    if (!claimed) {
      spdlog::error("async: claim events: {}", claimed.error().message());
      return std::chrono::seconds(1);
    }
    if (claimed->empty()) break;
    for (AsyncEvent& e : *claimed) dispatch(std::move(e), now);
  }
  auto next = events_.nextDueMs();
  if (!next) return std::nullopt;
  return std::chrono::milliseconds(std::max<int64_t>(0, *next - clock_.epochMillis()));
}

void AsyncService::dispatch(AsyncEvent event, int64_t now_ms) {
  auto target = invoker_->asyncTarget(event.function, event.qualifier);
  if (!target) {
    if (target.error().code == ErrorCode::NotFound) {
      spdlog::warn("async: dropping event {} for {}{}{}: {}", event.request_id, event.function,
                   event.qualifier.empty() ? "" : ":", event.qualifier,
                   target.error().message());
      complete(event.id);
    } else {
      spdlog::warn("async: event {} for {}: {}; retrying", event.request_id, event.function,
                   target.error().message());
      backoff(event, nullptr, now_ms);
    }
    return;
  }
  if (now_ms - event.enqueued_ms > maxAgeMs(*target)) {
    fail(event, *target, "EventAgeExceeded", now_ms);
    return;
  }
  if (target->reserved_concurrency && *target->reserved_concurrency == 0) {
    // Lambda sends these straight to the failure path, without retries.
    fail(event, *target, "RetriesExhausted", now_ms);
    return;
  }
  std::string payload = std::move(event.payload);
  event.payload.clear();
  const int64_t id = event.id;
  std::string function = event.function;
  std::string qualifier = event.qualifier;
  std::string request_id = event.request_id;
  in_flight_.emplace(id, Flight{std::move(event), std::move(*target)});
  in_flight_count_.store(in_flight_.size());
  // The callback may run inline or on any thread, possibly after this service is gone: it only
  // touches the shared state.
  invoker_->invokeAsyncEvent(function, qualifier, std::move(payload), std::move(request_id),
                             [shared = shared_, id](InvokeOutcome outcome) {
                               {
                                 std::lock_guard lock(shared->mu);
                                 shared->outcomes.emplace_back(id, std::move(outcome));
                               }
                               shared->cv.notify_one();
                             });
}

void AsyncService::record(Flight flight, InvokeOutcome outcome, int64_t now_ms) {
  AsyncEvent& e = flight.event;
  const AsyncTarget& target = flight.target;
  switch (outcome.kind) {
    case InvokeOutcome::Kind::Success: {
      ++e.attempts;
      if (!target.config.on_success.empty()) {
        RecordInput in;
        const std::string payload = loadPayload(e);
        in.request_id = e.request_id;
        in.function_arn = target.function_arn;
        in.condition = "Success";
        in.approximate_invoke_count = e.attempts;
        in.request_payload = payload;
        in.ran = true;
        in.status_code = 200;
        in.executed_version = outcome.executed_version;
        in.response_payload = outcome.payload;
        in.timestamp_ms = now_ms;
        if (auto st = deliver(target.config.on_success, invocationRecord(in), "{}", now_ms); !st) {
          spdlog::error("async: event {}: OnSuccess {}: {}; retrying the record",
                        e.request_id, target.config.on_success, st.error().message());
          // Keep the event: it is delivered again later (at least once), with its record.
          backoff(e, &target, now_ms);
          return;
        }
      }
      complete(e.id);
      return;
    }
    case InvokeOutcome::Kind::FunctionError: {
      ++e.attempts;
      e.throttles = 0;
      e.last_response = std::move(outcome.payload);
      e.last_version = std::move(outcome.executed_version);
      e.last_function_error =
          outcome.function_error.empty() ? std::string("Unhandled") : std::move(outcome.function_error);
      if (e.attempts > maxRetries(target)) {
        fail(e, target, "RetriesExhausted", now_ms);
        return;
      }
      // ~1 minute before the 2nd attempt, ~2 minutes before the 3rd.
      e.next_attempt_ms = now_ms + options_.retry_delay.count() * e.attempts;
      e.next_attempt_ms = std::min(e.next_attempt_ms, e.enqueued_ms + maxAgeMs(target) + 1);
      if (auto st = events_.reschedule(e); !st) {
        spdlog::error("async: reschedule event {}: {}", e.request_id, st.error().message());
        events_.release(e.id, now_ms + options_.retry_delay.count());
      }
      return;
    }
    case InvokeOutcome::Kind::Throttled:
    case InvokeOutcome::Kind::Failed:
      spdlog::debug("async: event {} for {}: {}; back in the queue", e.request_id, e.function,
                    outcome.reason);
      backoff(e, &target, now_ms);
      return;
    case InvokeOutcome::Kind::NotFound:
      spdlog::warn("async: dropping event {} for {}: {}", e.request_id, e.function,
                   outcome.reason);
      complete(e.id);
      return;
  }
}

void AsyncService::backoff(AsyncEvent& e, const AsyncTarget* target, int64_t now_ms) {
  ++e.throttles;
  // retry_delay/60 doubling per consecutive throttle, at most 5 x retry_delay (1 s .. 5 min).
  const int64_t base = std::max<int64_t>(1, options_.retry_delay.count() / 60);
  const int64_t cap = std::max<int64_t>(base, options_.retry_delay.count() * 5);
  const int shift = std::min(e.throttles - 1, 30);
  const int64_t delay = std::min(cap, base << shift);
  e.next_attempt_ms = now_ms + delay;
  if (target) e.next_attempt_ms = std::min(e.next_attempt_ms, e.enqueued_ms + maxAgeMs(*target) + 1);
  if (auto st = events_.reschedule(e); !st) {
    spdlog::error("async: reschedule event {}: {}", e.request_id, st.error().message());
    events_.release(e.id, e.next_attempt_ms);
  }
}

void AsyncService::fail(AsyncEvent& e, const AsyncTarget& target, std::string_view condition,
                        int64_t now_ms) {
  const std::string& on_failure = target.config.on_failure;
  const std::string& dlq = target.dead_letter_arn;
  if (on_failure.empty() && dlq.empty()) {
    spdlog::info("async: event {} for {} discarded ({}, {} attempts)", e.request_id,
                 target.function_arn, condition, e.attempts);
    complete(e.id);
    return;
  }
  const std::string payload = loadPayload(e);
  Status st;
  if (!on_failure.empty()) {
    RecordInput in;
    in.request_id = e.request_id;
    in.function_arn = target.function_arn;
    in.condition = condition;
    in.approximate_invoke_count = e.attempts;
    in.request_payload = payload;
    in.ran = e.attempts > 0;
    in.status_code = e.attempts > 0 ? 200 : 429;
    in.executed_version = e.last_version;
    in.function_error = e.last_function_error;
    in.response_payload = e.last_response;
    in.timestamp_ms = now_ms;
    st = deliver(on_failure, invocationRecord(in), "{}", now_ms);
  }
  if (st && !dlq.empty()) {
    std::string message = e.last_response.empty() ? std::string(condition) : e.last_response;
    st = deliver(dlq, payload,
                 deadLetterAttributes(e.request_id, e.attempts > 0 ? 200 : 429, message), now_ms);
  }
  if (!st) {
    spdlog::error("async: event {}: failure destination: {}; retrying", e.request_id,
                  st.error().message());
    backoff(e, nullptr, now_ms);
    return;
  }
  complete(e.id);
}

Status AsyncService::deliver(const std::string& arn, std::string_view body,
                             std::string_view attributes, int64_t now_ms) {
  Destination d = parseDestination(arn);
  switch (d.kind) {
    case Destination::Kind::Queue: {
      auto id = queues_.send(d.name, body, attributes);
      if (!id) return tl::unexpected(std::move(id.error()));
      return {};
    }
    case Destination::Kind::Function: {
      auto id = events_.enqueue(uuid4(), d.name, d.qualifier, body, now_ms);
      if (!id) return tl::unexpected(std::move(id.error()));
      return {};
    }
    case Destination::Kind::Topic:
    case Destination::Kind::EventBus:
    case Destination::Kind::Bucket:
    case Destination::Kind::Invalid:
      spdlog::warn("async: destination {} is not supported by kindling; message dropped", arn);
      return {};
  }
  return {};
}

std::string AsyncService::loadPayload(AsyncEvent& e) {
  if (!e.payload.empty()) return std::move(e.payload);  // still here: not yet invoked
  auto p = events_.payload(e.id);
  if (!p) {
    spdlog::error("async: load payload of event {}: {}", e.request_id, p.error().message());
    return std::string();
  }
  return std::move(*p);
}

void AsyncService::complete(int64_t id) {
  if (auto st = events_.complete(id); !st) {
    spdlog::error("async: delete event {}: {}", id, st.error().message());
  }
}

}  // namespace kindling::async
