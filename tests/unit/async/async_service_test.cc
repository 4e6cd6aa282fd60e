// AsyncService against a scripted invoker and a fake clock: every retry, backoff and
// destination decision is checked at exact fake times.
#include "async/async_service.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "store/registry.h"

namespace kindling::async {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Kind = InvokeOutcome::Kind;

constexpr const char* kOk = "arn:aws:sqs:us-east-1:000000000000:ok";
constexpr const char* kFail = "arn:aws:sqs:us-east-1:000000000000:fail";
constexpr const char* kDlq = "arn:aws:sqs:us-east-1:000000000000:dlq";

class ScriptedInvoker final : public FunctionInvoker {
 public:
  struct Call {
    std::string function, qualifier, payload, request_id;
    std::function<void(InvokeOutcome)> done;
  };

  Result<AsyncTarget> asyncTarget(const std::string& function,
                                  const std::string& qualifier) override {
    auto it = targets.find(function);
    if (it == targets.end()) return makeError(ErrorCode::NotFound, "Function not found: " + function);
    AsyncTarget t = it->second;
    t.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + function + ":" +
                     (qualifier.empty() ? "$LATEST" : qualifier);
    return t;
  }
  void invokeAsyncEvent(const std::string& function, const std::string& qualifier,
                        std::string payload, std::string request_id,
                        std::function<void(InvokeOutcome)> done) override {
    calls.push_back(Call{function, qualifier, std::move(payload), std::move(request_id),
                         std::move(done)});
  }
  // Completes call i.
  void finish(size_t i, Kind kind, std::string payload = "null") {
    InvokeOutcome o;
    o.kind = kind;
    o.payload = std::move(payload);
    o.executed_version = "$LATEST";
    if (kind == Kind::FunctionError) o.function_error = "Unhandled";
    auto done = std::move(calls.at(i).done);
    done(std::move(o));
  }

  std::map<std::string, AsyncTarget> targets;
  std::vector<Call> calls;
};

class AsyncServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = store::Registry::open(db());
    ASSERT_TRUE(registry) << registry.error().message();
    registry_ = std::move(*registry);
    openService();
  }
  void openService() {
    service_.reset();
    events_.reset();
    auto events = EventQueue::open(db());
    ASSERT_TRUE(events) << events.error().message();
    events_ = std::move(*events);
    if (!queues_) {
      auto queues = QueueStore::open(db(), clock_);
      ASSERT_TRUE(queues) << queues.error().message();
      queues_ = std::move(*queues);
    }
    AsyncOptions options;
    options.retry_delay = milliseconds(60000);
    options.max_in_flight = 4;
    service_ = std::make_unique<AsyncService>(*events_, *queues_, clock_, options);
    service_->setInvoker(&invoker_);
  }
  std::filesystem::path db() const { return dir_.path() / "registry.db"; }
  AsyncTarget& target(const std::string& name) { return invoker_.targets[name]; }
  void enqueue(const std::string& fn, const std::string& payload = R"({"n":1})",
               const std::string& request_id = "req-1") {
    ASSERT_TRUE(service_->enqueue(fn, "", payload, request_id));
  }
  std::vector<QueueMessage> drain(const char* arn) {
    auto name = sqsQueueName(arn);
    auto got = queues_->receive(*name, 10, 0, true);
    EXPECT_TRUE(got);
    return got ? *got : std::vector<QueueMessage>{};
  }
  void advance(int64_t ms) { clock_.advance(milliseconds(ms)); }

  fakes::TempDir dir_;
  fakes::FakeClock clock_;
  std::unique_ptr<store::Registry> registry_;
  std::unique_ptr<EventQueue> events_;
  std::unique_ptr<QueueStore> queues_;
  ScriptedInvoker invoker_;
  std::unique_ptr<AsyncService> service_;
};

TEST_F(AsyncServiceTest, SuccessSendsRecordToOnSuccessAndDeletesEvent) {
  target("fn").config.on_success = kOk;
  enqueue("fn", R"({"hello":"world"})", "req-ok");
  service_->runOnce();
  ASSERT_EQ(invoker_.calls.size(), 1u);
  EXPECT_EQ(invoker_.calls[0].payload, R"({"hello":"world"})");
  EXPECT_EQ(invoker_.calls[0].request_id, "req-ok");
  EXPECT_EQ(service_->inFlight(), 1u);
  invoker_.finish(0, Kind::Success, R"({"result":42})");
  service_->runOnce();
  EXPECT_EQ(service_->inFlight(), 0u);
  EXPECT_EQ(service_->queued(), 0u);
  auto msgs = drain(kOk);
  ASSERT_EQ(msgs.size(), 1u);
  json r = json::parse(msgs[0].body);
  EXPECT_EQ(r["version"], "1.0");
  EXPECT_EQ(r["requestContext"]["requestId"], "req-ok");
  EXPECT_EQ(r["requestContext"]["condition"], "Success");
  EXPECT_EQ(r["requestContext"]["approximateInvokeCount"], 1);
  EXPECT_EQ(r["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST");
  EXPECT_EQ(r["requestPayload"]["hello"], "world");
  EXPECT_EQ(r["responseContext"]["statusCode"], 200);
  EXPECT_EQ(r["responseContext"]["executedVersion"], "$LATEST");
  EXPECT_FALSE(r["responseContext"].contains("functionError"));
  EXPECT_EQ(r["responsePayload"]["result"], 42);
}

// Fails every attempt and returns the fake times (ms after enqueue) of each attempt.
std::vector<int64_t> failEveryAttempt(AsyncServiceTest* t, ScriptedInvoker& inv,
                                      AsyncService& svc, fakes::FakeClock& clock) {
  (void)t;
  std::vector<int64_t> times;
  const auto start = clock.elapsed();
  for (int step = 0; step < 400; ++step) {  // 400 s of fake time in 1 s steps
    const size_t before = inv.calls.size();
    svc.runOnce();
    if (inv.calls.size() > before) {
      times.push_back(std::chrono::duration_cast<milliseconds>(clock.elapsed() - start).count());
      inv.finish(inv.calls.size() - 1, Kind::FunctionError, R"({"errorMessage":"boom"})");
      svc.runOnce();
    }
    clock.advance(std::chrono::seconds(1));
  }
  return times;
}

TEST_F(AsyncServiceTest, FunctionErrorsAreRetriedTwiceByDefaultAfterOneThenTwoMinutes) {
  target("fn").config.on_failure = kFail;
  enqueue("fn");
  auto times = failEveryAttempt(this, invoker_, *service_, clock_);
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[0], 0);
  EXPECT_EQ(times[1], 60000);
  EXPECT_EQ(times[2], 60000 + 120000);
  EXPECT_EQ(service_->queued(), 0u);
  auto msgs = drain(kFail);
  ASSERT_EQ(msgs.size(), 1u);
  json r = json::parse(msgs[0].body);
  EXPECT_EQ(r["requestContext"]["condition"], "RetriesExhausted");
  EXPECT_EQ(r["requestContext"]["approximateInvokeCount"], 3);
  EXPECT_EQ(r["responseContext"]["functionError"], "Unhandled");
  EXPECT_EQ(r["responsePayload"]["errorMessage"], "boom");
  EXPECT_EQ(r["requestPayload"]["n"], 1);
}

TEST_F(AsyncServiceTest, MaximumRetryAttemptsBoundsAttempts) {
  for (int retries : {0, 1}) {
    invoker_.calls.clear();
    const std::string fn = "fn" + std::to_string(retries);
    target(fn).config.max_retry_attempts = retries;
    target(fn).config.on_failure = kFail;
    enqueue(fn, "{}", "req-" + fn);
    auto times = failEveryAttempt(this, invoker_, *service_, clock_);
    EXPECT_EQ(times.size(), static_cast<size_t>(retries + 1)) << fn;
    auto msgs = drain(kFail);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(json::parse(msgs[0].body)["requestContext"]["approximateInvokeCount"], retries + 1);
  }
}

TEST_F(AsyncServiceTest, ThrottlesRequeueWithExponentialBackoffWithoutConsumingAttempts) {
  target("fn").config.max_retry_attempts = 0;
  target("fn").config.on_success = kOk;
  enqueue("fn");
  std::vector<int64_t> due;
  for (int i = 0; i < 12; ++i) {
    service_->runOnce();
    ASSERT_EQ(invoker_.calls.size(), static_cast<size_t>(i + 1));
    invoker_.finish(i, i % 2 ? Kind::Throttled : Kind::Failed);
    service_->runOnce();
    auto next = events_->nextDueMs();
    ASSERT_TRUE(next);
    due.push_back(*next - clock_.epochMillis());
    clock_.advance(milliseconds(due.back()));
  }
  // 1 s doubling, capped at 5 min (Lambda's scale with retry_delay = 60 s).
  std::vector<int64_t> expected = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000,
                                   256000, 300000, 300000, 300000};
  EXPECT_EQ(due, expected);
  // Throttles did not use up the single attempt: the next run still counts as attempt 1.
  service_->runOnce();
  ASSERT_EQ(invoker_.calls.size(), 13u);
  invoker_.finish(12, Kind::Success, "{}");
  service_->runOnce();
  auto msgs = drain(kOk);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(json::parse(msgs[0].body)["requestContext"]["approximateInvokeCount"], 1);
}

TEST_F(AsyncServiceTest, FunctionErrorAfterThrottleWaitsTheRetryDelay) {
  target("fn");
  enqueue("fn");
  service_->runOnce();
  invoker_.finish(0, Kind::Throttled);
  service_->runOnce();
  advance(1000);
  service_->runOnce();
  invoker_.finish(1, Kind::FunctionError);
  service_->runOnce();
  // A function error waits retry_delay (not the throttle backoff).
  EXPECT_EQ(*events_->nextDueMs() - clock_.epochMillis(), 60000);
}

TEST_F(AsyncServiceTest, EventsOlderThanMaximumEventAgeGoToFailureWithoutRunning) {
  target("fn").config.max_event_age_s = 60;
  target("fn").config.on_failure = kFail;
  enqueue("fn");
  service_->runOnce();
  ASSERT_EQ(invoker_.calls.size(), 1u);
  invoker_.finish(0, Kind::Throttled);
  service_->runOnce();
  // Keep throttling: backoff is capped at the age limit, then the event expires.
  for (int i = 0; i < 100 && service_->queued() > 0; ++i) {
    auto next = events_->nextDueMs();
    ASSERT_TRUE(next);
    clock_.advance(milliseconds(std::max<int64_t>(0, *next - clock_.epochMillis())));
    const size_t before = invoker_.calls.size();
    service_->runOnce();
    if (invoker_.calls.size() > before) {
      invoker_.finish(invoker_.calls.size() - 1, Kind::Throttled);
      service_->runOnce();
    }
  }
  EXPECT_EQ(service_->queued(), 0u);
  EXPECT_LE(clock_.elapsed(), std::chrono::seconds(61));
  auto msgs = drain(kFail);
  ASSERT_EQ(msgs.size(), 1u);
  json r = json::parse(msgs[0].body);
  EXPECT_EQ(r["requestContext"]["condition"], "EventAgeExceeded");
  EXPECT_EQ(r["requestContext"]["approximateInvokeCount"], 0);
  EXPECT_FALSE(r.contains("responsePayload"));
}

TEST_F(AsyncServiceTest, ExpiredEventIsNotInvoked) {
  target("fn").config.max_event_age_s = 60;
  enqueue("fn");
  advance(61000);
  service_->runOnce();
  EXPECT_TRUE(invoker_.calls.empty());
  EXPECT_EQ(service_->queued(), 0u);  // no destination: discarded
}

TEST_F(AsyncServiceTest, ReservedConcurrencyZeroGoesStraightToFailureDestinationAndDlq) {
  target("fn").reserved_concurrency = 0;
  target("fn").config.on_failure = kFail;
  target("fn").dead_letter_arn = kDlq;
  enqueue("fn", R"({"x":true})", "req-z");
  service_->runOnce();
  EXPECT_TRUE(invoker_.calls.empty());
  EXPECT_EQ(service_->queued(), 0u);
  auto fail = drain(kFail);
  ASSERT_EQ(fail.size(), 1u);
  EXPECT_EQ(json::parse(fail[0].body)["requestContext"]["condition"], "RetriesExhausted");
  auto dlq = drain(kDlq);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].body, R"({"x":true})");
}

TEST_F(AsyncServiceTest, DeadLetterQueueGetsOnlyTheEvent) {
  target("fn").config.max_retry_attempts = 1;
  target("fn").dead_letter_arn = kDlq;
  enqueue("fn", R"({"order":7})", "req-dlq");
  auto times = failEveryAttempt(this, invoker_, *service_, clock_);
  EXPECT_EQ(times.size(), 2u);
  auto dlq = drain(kDlq);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].body, R"({"order":7})");
  json attrs = json::parse(dlq[0].attributes);
  EXPECT_EQ(attrs["RequestID"]["StringValue"], "req-dlq");
  EXPECT_EQ(attrs["ErrorCode"]["StringValue"], "200");
  EXPECT_TRUE(drain(kFail).empty());
}

TEST_F(AsyncServiceTest, FunctionDestinationReceivesRecordAsAnAsyncEvent) {
  target("fn").config.on_success = "arn:aws:lambda:us-east-1:000000000000:function:audit:live";
  target("audit");
  enqueue("fn", R"({"a":1})", "req-src");
  service_->runOnce();
  invoker_.finish(0, Kind::Success, R"("done")");
  service_->runOnce();  // records the outcome, then dispatches the destination event
  ASSERT_EQ(invoker_.calls.size(), 2u);
  EXPECT_EQ(invoker_.calls[1].function, "audit");
  EXPECT_EQ(invoker_.calls[1].qualifier, "live");
  EXPECT_NE(invoker_.calls[1].request_id, "req-src");
  json r = json::parse(invoker_.calls[1].payload);
  EXPECT_EQ(r["requestContext"]["requestId"], "req-src");
  EXPECT_EQ(r["responsePayload"], "done");
}

TEST_F(AsyncServiceTest, DeletedFunctionDropsEvent) {
  enqueue("gone");
  service_->runOnce();
  EXPECT_TRUE(invoker_.calls.empty());
  EXPECT_EQ(service_->queued(), 0u);
  target("fn");
  enqueue("fn");
  service_->runOnce();
  invoker_.finish(0, Kind::NotFound);
  service_->runOnce();
  EXPECT_EQ(service_->queued(), 0u);
}

TEST_F(AsyncServiceTest, InFlightIsBoundedByMaxInFlight) {
  for (int i = 0; i < 10; ++i) enqueue("fn", "{}", "r" + std::to_string(i));
  target("fn");
  service_->runOnce();
  EXPECT_EQ(invoker_.calls.size(), 4u);
  EXPECT_FALSE(service_->runOnce().has_value());  // no free slot: wait for an outcome
  invoker_.finish(0, Kind::Success);
  service_->runOnce();
  EXPECT_EQ(invoker_.calls.size(), 5u);
  EXPECT_EQ(invoker_.calls[4].request_id, "r4");  // in enqueue order
}

TEST_F(AsyncServiceTest, EventInFlightDuringACrashIsDeliveredAgainAfterRestart) {
  target("fn").config.on_success = kOk;
  enqueue("fn", R"({"k":1})", "req-crash");
  service_->runOnce();
  ASSERT_EQ(invoker_.calls.size(), 1u);
  auto orphan = std::move(invoker_.calls[0].done);  // the outcome never arrives: "crash"
  invoker_.calls.clear();
  openService();  // a new process on the same database
  service_->runOnce();
  ASSERT_EQ(invoker_.calls.size(), 1u);
  EXPECT_EQ(invoker_.calls[0].request_id, "req-crash");
  EXPECT_EQ(invoker_.calls[0].payload, R"({"k":1})");
  invoker_.finish(0, Kind::Success);
  service_->runOnce();
  EXPECT_EQ(drain(kOk).size(), 1u);
  // An outcome arriving for the old, dead service is harmless.
  InvokeOutcome late;
  orphan(late);
  service_->runOnce();
  EXPECT_EQ(service_->queued(), 0u);
}

// The delivery thread with an invoker that answers inline from the calling thread.
class InlineInvoker final : public FunctionInvoker {
 public:
  Result<AsyncTarget> asyncTarget(const std::string&, const std::string&) override {
    AsyncTarget t;
    t.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST";
    t.config.on_success = kOk;
    return t;
  }
  void invokeAsyncEvent(const std::string&, const std::string&, std::string payload,
                        std::string, std::function<void(InvokeOutcome)> done) override {
    InvokeOutcome o;
    o.payload = std::move(payload);
    o.executed_version = "$LATEST";
    done(std::move(o));
  }
};

TEST_F(AsyncServiceTest, DeliveryThreadDrainsTheQueue) {
  SystemClock clock;
  AsyncOptions options;
  options.max_in_flight = 3;
  AsyncService svc(*events_, *queues_, clock, options);
  InlineInvoker inline_invoker;
  svc.setInvoker(&inline_invoker);
  svc.start();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(svc.enqueue("fn", "", "{\"i\":" + std::to_string(i) + "}", "r" + std::to_string(i)));
  }
  for (int i = 0; i < 500 && svc.queued() > 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  svc.stop();
  EXPECT_EQ(svc.queued(), 0u);
  auto summary = queues_->list();
  ASSERT_TRUE(summary);
  ASSERT_EQ(summary->size(), 1u);
  EXPECT_EQ((*summary)[0].visible, 50);
}

}  // namespace
}  // namespace kindling::async
