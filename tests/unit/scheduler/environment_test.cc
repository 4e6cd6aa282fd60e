// The Environment state machine driven by fakes: a FakeClock (exact durations), FakeTimers
// (timeouts fire when the test advances time), a FakeSandboxProcess (peak memory, OOM, exit
// status) and a real LogStream in a temp dir (the exact START/END/REPORT bytes).
#include "scheduler/environment.h"

#include <signal.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_sandbox.h"
#include "fakes/fake_timers.h"
#include "runtime_api/wire.h"
#include "fakes/temp_dir.h"

namespace kindling::scheduler {
namespace {

namespace rapi = kindling::runtime_api;
using namespace std::chrono_literals;

constexpr int64_t kEpoch = 1700000000000;  // 2023-11-14T22:13:20.000Z
constexpr uint64_t kMiB = 1 << 20;
constexpr const char* kArn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
constexpr const char* kTrace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string errorJson(const std::string& type, const std::string& message) {
  return R"({"errorMessage":")" + message + R"(","errorType":")" + type + R"("})";
}

struct Finished {
  InvokeResult result;
  EnvState state_at_done;  // read from inside done(): proves the env lock is not held
};

class EnvironmentTest : public ::testing::Test {
 protected:
  EnvironmentTest() {
    auto config = std::make_shared<store::FunctionConfig>();
    config->name = "fn";
    config->runtime = "provided.al2023";
    config->handler = "handler";
    config->memory_mb = 128;
    config->timeout_s = 3;
    config_ = config;
    process_ = std::make_shared<fakes::FakeProcessState>();
  }

  std::shared_ptr<Environment> makeEnv(EnvironmentOptions options = {}) {
    auto log = observe::LogStream::create(log_path(), 1 << 20);
    EXPECT_TRUE(log.has_value());
    Environment::Hooks hooks;
    hooks.on_idle = [this](const std::shared_ptr<Environment>& env) {
      idle_.push_back(env.get());
      if (on_idle_extra_) on_idle_extra_(env);
    };
    hooks.on_dead = [this](const std::shared_ptr<Environment>& env) {
      dead_.push_back(env.get());
    };
    hooks.on_state = [this](EnvState from, EnvState to) { transitions_.emplace_back(from, to); };
    hooks.on_returning = [this](const std::shared_ptr<Environment>& env) {
      returning_.push_back(env.get());
    };
    hooks.on_requeue = [this](InvokeRequest&& r) { requeued_.push_back(std::move(r)); };
    hooks.on_snapshot_point = on_snapshot_point_;
    env_ = std::make_shared<Environment>(7, config_, "2023/11/14/[$LATEST]0123abcd",
                                         std::move(*log), clock_, timers_, std::move(hooks),
                                         options);
    return env_;
  }

  InvokeRequest request(const std::string& id, bool tail = false) {
    InvokeRequest r;
    r.request_id = id;
    r.payload = R"({"key":"value"})";
    r.invoked_function_arn = kArn;
    r.trace_id = kTrace;
    r.want_log_tail = tail;
    r.done = [this, id](InvokeResult&& res) {
      finished_[id].push_back(Finished{std::move(res), env_->state()});
    };
    return r;
  }

  std::function<void(rapi::NextInvocation&&)> deliverer() {
    return [this](rapi::NextInvocation&& n) { delivered_.push_back(std::move(n)); };
  }

  // begin() + attach() of a fake process, as the engine does for a cold start.
  void coldStart(const std::string& id, bool tail = false) {
    env_->begin(request(id, tail), clock_.now());
    env_->attach(std::make_unique<fakes::FakeSandboxProcess>(process_));
  }

  // Cold start + the runtime's first /next (after init_time) + a response (after run_time).
  void coldInvoke(const std::string& id, Clock::Duration init_time, Clock::Duration run_time) {
    coldStart(id);
    timers_.advance(init_time);
    env_->onNext(deliverer());
    timers_.advance(run_time);
    ASSERT_EQ(env_->onResponse(id, "\"ok\"").status, 202);
  }

  const InvokeResult& only(const std::string& id) {
    static const InvokeResult kEmpty;
    auto it = finished_.find(id);
    if (it == finished_.end() || it->second.size() != 1) {
      ADD_FAILURE() << "expected exactly one answer for " << id << ", got "
                    << (it == finished_.end() ? 0 : it->second.size());
      return kEmpty;
    }
    return it->second.front().result;
  }
  size_t answers(const std::string& id) const {
    auto it = finished_.find(id);
    return it == finished_.end() ? 0 : it->second.size();
  }

  std::filesystem::path log_path() const { return dir_.path() / "stream.log"; }
  std::string log() const { return readFile(log_path()); }

  fakes::TempDir dir_;
  fakes::FakeClock clock_{kEpoch};
  fakes::FakeTimers timers_{clock_};
  std::shared_ptr<const store::FunctionConfig> config_;
  std::shared_ptr<fakes::FakeProcessState> process_;
  std::vector<rapi::NextInvocation> delivered_;
  std::map<std::string, std::vector<Finished>> finished_;
  std::vector<Environment*> idle_;
  std::vector<Environment*> dead_;
  std::vector<std::pair<EnvState, EnvState>> transitions_;
  std::vector<Environment*> returning_;
  std::vector<InvokeRequest> requeued_;
  std::function<void(const std::shared_ptr<Environment>&)> on_idle_extra_;
  std::function<void(const std::shared_ptr<Environment>&)> on_snapshot_point_;  // SnapStart
  std::shared_ptr<Environment> env_;  // last: destroyed first (it cancels timers_)
};

using Transitions = std::vector<std::pair<EnvState, EnvState>>;

TEST_F(EnvironmentTest, ColdStartDeliversPendingInvocationOnFirstNext) {
  makeEnv();
  process_->peak_memory_bytes = 50 * kMiB + 1;  // rounds up to 51 MB
  coldStart("req-1");
  EXPECT_EQ(env_->state(), EnvState::Initializing);
  EXPECT_EQ(env_->pid(), 4242);
  EXPECT_EQ(timers_.pendingCount(), 1u);  // the init timeout
  EXPECT_TRUE(delivered_.empty());

  timers_.advance(150ms);
  env_->onNext(deliverer());
  ASSERT_EQ(delivered_.size(), 1u);
  const rapi::NextInvocation& next = delivered_[0];
  EXPECT_EQ(next.request_id, "req-1");
  EXPECT_EQ(next.deadline_epoch_ms, kEpoch + 150 + 3000);
  EXPECT_EQ(next.invoked_function_arn, kArn);
  EXPECT_EQ(next.trace_id, kTrace);
  EXPECT_EQ(next.client_context, "");
  EXPECT_EQ(next.cognito_identity, "");
  EXPECT_EQ(next.payload, R"({"key":"value"})");
  EXPECT_EQ(env_->state(), EnvState::Busy);
  EXPECT_EQ(timers_.pendingCount(), 1u);  // init timer cancelled, invoke timer armed
  EXPECT_EQ(timers_.cancelledCount(), 1u);

  env_->onOutput("hello from the handler\n");
  timers_.advance(20ms);
  const rapi::PostOutcome outcome = env_->onResponse("req-1", "\"ok\"");
  EXPECT_EQ(outcome.status, 202);
  EXPECT_EQ(outcome.error_type, "");

  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.payload, "\"ok\"");
  EXPECT_FALSE(r.function_error);
  EXPECT_EQ(r.error_type, "");
  EXPECT_TRUE(r.cold);
  ASSERT_TRUE(r.init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*r.init_duration_ms, 150.0);
  EXPECT_DOUBLE_EQ(r.duration_ms, 20.0);
  EXPECT_EQ(r.max_memory_used_mb, 51);
  EXPECT_EQ(r.log_tail, "");  // not asked for
  EXPECT_EQ(finished_["req-1"][0].state_at_done, EnvState::Busy);
  EXPECT_EQ(timers_.pendingCount(), 0u);  // invoke timer cancelled

  EXPECT_EQ(log(),
            "START RequestId: req-1 Version: $LATEST\n"
            "hello from the handler\n"
            "END RequestId: req-1\n"
            "REPORT RequestId: req-1\tDuration: 20.00 ms\tBilled Duration: 170 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 51 MB\tInit Duration: 150.00 ms\t\n");
  EXPECT_EQ(transitions_, (Transitions{{EnvState::Starting, EnvState::Initializing},
                                       {EnvState::Initializing, EnvState::Busy}}));
  EXPECT_TRUE(idle_.empty());
  EXPECT_TRUE(dead_.empty());
}

TEST_F(EnvironmentTest, LogTailHoldsStartToReportWhenAsked) {
  makeEnv();
  coldStart("req-1", /*tail=*/true);
  timers_.advance(5ms);
  env_->onNext(deliverer());
  env_->onOutput("line one\n");
  env_->onOutput("line two\n");
  timers_.advance(2ms);
  ASSERT_EQ(env_->onResponse("req-1", "{}").status, 202);
  const InvokeResult& r = only("req-1");
  const std::string expected =
      "START RequestId: req-1 Version: $LATEST\n"
      "line one\nline two\n"
      "END RequestId: req-1\n"
      "REPORT RequestId: req-1\tDuration: 2.00 ms\tBilled Duration: 7 ms\t"
      "Memory Size: 128 MB\tMax Memory Used: 0 MB\tInit Duration: 5.00 ms\t\n";
  EXPECT_EQ(r.log_tail, expected);
  EXPECT_EQ(log(), expected);
}

TEST_F(EnvironmentTest, LogTailKeepsOnlyTheLastBytes) {
  EnvironmentOptions options;
  options.log_tail_bytes = 64;
  makeEnv(options);
  coldStart("req-1", /*tail=*/true);
  env_->onNext(deliverer());
  for (int i = 0; i < 100; ++i) env_->onOutput("0123456789abcdef\n");
  ASSERT_EQ(env_->onResponse("req-1", "{}").status, 202);
  const InvokeResult& r = only("req-1");
  ASSERT_EQ(r.log_tail.size(), 64u);
  const std::string whole = log();
  EXPECT_EQ(r.log_tail, whole.substr(whole.size() - 64));
  EXPECT_EQ(r.log_tail.substr(r.log_tail.size() - 2), "\t\n");  // ends with the REPORT line
}

TEST_F(EnvironmentTest, WarmDispatchAfterNextHasNoInitDuration) {
  makeEnv();
  coldInvoke("req-1", 100ms, 10ms);
  EXPECT_EQ(env_->state(), EnvState::Busy);  // responded, waiting for the runtime's next /next

  env_->onNext(deliverer());
  EXPECT_EQ(env_->state(), EnvState::Idle);
  ASSERT_EQ(idle_.size(), 1u);
  EXPECT_EQ(idle_[0], env_.get());
  EXPECT_EQ(delivered_.size(), 1u);  // parked, nothing to deliver yet
  EXPECT_EQ(env_->lastUsed(), clock_.now());

  timers_.advance(5ms);
  InvokeRequest second = request("req-2");
  EXPECT_TRUE(env_->dispatch(second));
  ASSERT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(delivered_[1].request_id, "req-2");
  EXPECT_EQ(delivered_[1].deadline_epoch_ms, kEpoch + 115 + 3000);
  EXPECT_EQ(env_->state(), EnvState::Busy);

  timers_.advance(7ms);
  ASSERT_EQ(env_->onResponse("req-2", "\"second\"").status, 202);
  const InvokeResult& r = only("req-2");
  EXPECT_EQ(r.payload, "\"second\"");
  EXPECT_FALSE(r.cold);
  EXPECT_FALSE(r.init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(r.duration_ms, 7.0);
  const std::string text = log();
  const std::string report2 =
      "START RequestId: req-2 Version: $LATEST\n"
      "END RequestId: req-2\n"
      "REPORT RequestId: req-2\tDuration: 7.00 ms\tBilled Duration: 7 ms\t"
      "Memory Size: 128 MB\tMax Memory Used: 0 MB\t\n";
  ASSERT_GE(text.size(), report2.size());
  EXPECT_EQ(text.substr(text.size() - report2.size()), report2);
  EXPECT_EQ(answers("req-1"), 1u);
}

TEST_F(EnvironmentTest, ProvisionedInitGoesIdleAndFirstInvocationIsWarm) {
  makeEnv();
  env_->begin(std::nullopt, clock_.now(), std::chrono::seconds(130));
  env_->attach(std::make_unique<fakes::FakeSandboxProcess>(process_));
  // The default init timeout (10 s) does not apply: provisioned environments get 130 s.
  timers_.advance(std::chrono::seconds(20));
  EXPECT_EQ(env_->state(), EnvState::Initializing);
  env_->onNext(deliverer());
  EXPECT_EQ(env_->state(), EnvState::Idle);
  ASSERT_EQ(idle_.size(), 1u);
  EXPECT_TRUE(delivered_.empty());

  InvokeRequest first = request("req-1");
  ASSERT_TRUE(env_->dispatch(first));
  timers_.advance(4ms);
  ASSERT_EQ(env_->onResponse("req-1", "\"ok\"").status, 202);
  const InvokeResult& r = only("req-1");
  EXPECT_FALSE(r.cold);
  EXPECT_FALSE(r.init_duration_ms.has_value());
  EXPECT_EQ(log().find("Init Duration"), std::string::npos);
}

TEST_F(EnvironmentTest, ProvisionedInitTimesOutAfterItsOwnLimit) {
  makeEnv();
  env_->begin(std::nullopt, clock_.now(), std::chrono::seconds(130));
  env_->attach(std::make_unique<fakes::FakeSandboxProcess>(process_));
  timers_.advance(std::chrono::seconds(131));
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_TRUE(finished_.empty());
}

TEST_F(EnvironmentTest, DispatchOnNonIdleEnvironmentReturnsFalse) {
  makeEnv();
  InvokeRequest warm = request("warm");
  EXPECT_FALSE(env_->dispatch(warm));  // Starting

  coldStart("req-1");
  EXPECT_FALSE(env_->dispatch(warm));  // Initializing
  env_->onNext(deliverer());
  EXPECT_FALSE(env_->dispatch(warm));  // Busy
  ASSERT_EQ(env_->onResponse("req-1", "{}").status, 202);
  EXPECT_FALSE(env_->dispatch(warm));  // Busy (responded, no /next yet)
  env_->shutdown();
  EXPECT_FALSE(env_->dispatch(warm));  // Dead

  // A refused request is left intact for the caller to place elsewhere.
  EXPECT_EQ(warm.request_id, "warm");
  EXPECT_EQ(warm.payload, R"({"key":"value"})");
  ASSERT_TRUE(static_cast<bool>(warm.done));
  EXPECT_EQ(delivered_.size(), 1u);
  EXPECT_EQ(answers("warm"), 0u);
}

TEST_F(EnvironmentTest, TimeoutFailsInvocationKillsProcessAndLogsAfterReport) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  // The timer drains the pipes first, so the handler's last output precedes END/REPORT.
  int drains = 0;
  env_->setOutputDrain([this, &drains] {
    if (drains++ == 0) env_->onOutput("last words\n");
  });
  timers_.advance(2999ms);
  EXPECT_EQ(answers("req-1"), 0u);
  timers_.advance(1ms);

  const InvokeResult& r = only("req-1");
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, "Sandbox.Timedout");
  EXPECT_EQ(r.payload, errorJson("Sandbox.Timedout",
                                 "RequestId: req-1 Error: Task timed out after 3.00 seconds"));
  EXPECT_DOUBLE_EQ(r.duration_ms, 3000.0);
  EXPECT_EQ(finished_["req-1"][0].state_at_done, EnvState::Dead);
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  ASSERT_EQ(dead_.size(), 1u);
  EXPECT_EQ(dead_[0], env_.get());
  EXPECT_EQ(drains, 1);
  EXPECT_TRUE(returning_.empty());  // a dead environment takes no queued work

  EXPECT_EQ(log(),
            "START RequestId: req-1 Version: $LATEST\n"
            "last words\n"
            "END RequestId: req-1\n"
            "REPORT RequestId: req-1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 0 MB\tInit Duration: 0.00 ms\t\n"
            "2023-11-14T22:13:23.000Z req-1 Task timed out after 3.00 seconds\n");

  // The killed process then exits: no second answer, no second on_dead, nothing logged.
  const std::string before = log();
  process_->setExit(sys::ExitStatus{true, SIGKILL});
  env_->onProcessExit();
  EXPECT_EQ(answers("req-1"), 1u);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(log(), before);
  EXPECT_EQ(env_->pid(), -1);
  // A late /next is never answered.
  env_->onNext(deliverer());
  EXPECT_EQ(delivered_.size(), 1u);
  EXPECT_EQ(transitions_.back(), std::make_pair(EnvState::Busy, EnvState::Dead));
}

TEST_F(EnvironmentTest, TimeoutUsesTheFunctionsConfiguredSeconds) {
  auto config = std::make_shared<store::FunctionConfig>(*config_);
  config->timeout_s = 15;
  config_ = config;
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  EXPECT_EQ(delivered_[0].deadline_epoch_ms, kEpoch + 15000);
  timers_.advance(14999ms);
  EXPECT_EQ(answers("req-1"), 0u);
  timers_.advance(1ms);
  EXPECT_EQ(only("req-1").payload,
            errorJson("Sandbox.Timedout",
                      "RequestId: req-1 Error: Task timed out after 15.00 seconds"));
}

struct ExitCase {
  const char* name;
  sys::ExitStatus status;
  bool oom;
  const char* type;
  const char* reason;
};

class ProcessExitMidInvokeTest : public EnvironmentTest,
                                 public ::testing::WithParamInterface<ExitCase> {};

TEST_P(ProcessExitMidInvokeTest, FailsInvocationWithLambdasWording) {
  const ExitCase& c = GetParam();
  makeEnv();
  process_->peak_memory_bytes = 3 * kMiB;
  coldStart("req-1");
  env_->onNext(deliverer());
  timers_.advance(42ms);
  process_->setExit(c.status);
  process_->oom_killed = c.oom;
  env_->onProcessExit();

  const std::string message = std::string("RequestId: req-1 Error: ") + c.reason;
  const InvokeResult& r = only("req-1");
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, c.type);
  EXPECT_EQ(r.payload, errorJson(c.type, message));
  EXPECT_DOUBLE_EQ(r.duration_ms, 42.0);
  EXPECT_EQ(r.max_memory_used_mb, 3);
  EXPECT_EQ(process_->reap_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(env_->pid(), -1);
  EXPECT_EQ(timers_.pendingCount(), 0u);  // invoke timer cancelled
  EXPECT_EQ(log(),
            "START RequestId: req-1 Version: $LATEST\n" + message + "\n" + c.type +
                "\nEND RequestId: req-1\n"
                "REPORT RequestId: req-1\tDuration: 42.00 ms\tBilled Duration: 42 ms\t"
                "Memory Size: 128 MB\tMax Memory Used: 3 MB\tInit Duration: 0.00 ms\t\n");
}

INSTANTIATE_TEST_SUITE_P(
    Exits, ProcessExitMidInvokeTest,
    ::testing::Values(
        ExitCase{"ExitStatus3", {false, 3}, false, "Runtime.ExitError",
                 "Runtime exited with error: exit status 3"},
        ExitCase{"Abort", {true, SIGABRT}, false, "Runtime.ExitError",
                 "Runtime exited with error: signal: aborted"},
        ExitCase{"CleanExit", {false, 0}, false, "Runtime.ExitError",
                 "Runtime exited without providing a reason"},
        ExitCase{"OomKilled", {true, SIGKILL}, true, "Runtime.OutOfMemory",
                 "Runtime exited with error: signal: killed"}),
    [](const ::testing::TestParamInfo<ExitCase>& info) { return info.param.name; });

TEST_F(EnvironmentTest, ExitWhileIdleAnswersNobodyAndDies) {
  makeEnv();
  coldInvoke("req-1", 1ms, 1ms);
  env_->onNext(deliverer());
  ASSERT_EQ(env_->state(), EnvState::Idle);
  process_->setExit(sys::ExitStatus{false, 0});
  env_->onProcessExit();
  EXPECT_EQ(answers("req-1"), 1u);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  InvokeRequest warm = request("req-2");
  EXPECT_FALSE(env_->dispatch(warm));  // the parked /next died with it
}

TEST_F(EnvironmentTest, InitErrorThenExitPassesBodyVerbatim) {
  makeEnv();
  coldStart("req-1");
  // Spacing and key order as Python's json.dumps writes them: must reach the caller untouched.
  const std::string body =
      R"({"errorMessage": "Unable to import module 'app': No module named 'missing'", )"
      R"("errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []})";
  const rapi::PostOutcome posted = env_->onInitError(std::string(body), "Runtime.ImportModuleError");
  EXPECT_EQ(posted.status, 202);
  EXPECT_EQ(posted.error_type, "");
  EXPECT_EQ(env_->state(), EnvState::Initializing);
  EXPECT_EQ(answers("req-1"), 0u);

  timers_.advance(40ms);
  process_->setExit(sys::ExitStatus{false, 1});
  env_->onProcessExit();
  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.payload, body);
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, "Runtime.ImportModuleError");
  EXPECT_TRUE(r.cold);
  ASSERT_TRUE(r.init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*r.init_duration_ms, 40.0);
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(timers_.pendingCount(), 0u);
  EXPECT_EQ(log(),
            "INIT_REPORT Init Duration: 40.00 ms\tPhase: init\tStatus: error\t"
            "Error Type: Runtime.ImportModuleError\n"
            "START RequestId: req-1 Version: $LATEST\n"
            "END RequestId: req-1\n"
            "REPORT RequestId: req-1\tDuration: 0.00 ms\tBilled Duration: 40 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 0 MB\tInit Duration: 40.00 ms\t\n");
  EXPECT_EQ(transitions_, (Transitions{{EnvState::Starting, EnvState::Initializing},
                                       {EnvState::Initializing, EnvState::Dead}}));
}

TEST_F(EnvironmentTest, InitExitWithoutInitErrorIsExitError) {
  makeEnv();
  coldStart("req-1");
  timers_.advance(3ms);
  process_->setExit(sys::ExitStatus{false, 127});
  env_->onProcessExit();
  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.payload,
            errorJson("Runtime.ExitError",
                      "RequestId: req-1 Error: Runtime exited with error: exit status 127"));
  EXPECT_EQ(r.error_type, "Runtime.ExitError");
  EXPECT_TRUE(r.function_error);
  EXPECT_TRUE(r.cold);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_NE(log().find("INIT_REPORT Init Duration: 3.00 ms\tPhase: init\tStatus: error\t"
                       "Error Type: Runtime.ExitError\n"),
            std::string::npos);
}

TEST_F(EnvironmentTest, InitTimeoutKillsAndFailsTheColdInvocation) {
  makeEnv();
  coldStart("req-1");
  timers_.advance(9999ms);
  EXPECT_EQ(process_->kill_calls.load(), 0);
  timers_.advance(1ms);
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  // The runtime's /next after the deadline is never answered.
  env_->onNext(deliverer());
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(answers("req-1"), 0u);  // answered once the killed process is reaped

  process_->setExit(sys::ExitStatus{true, SIGKILL});
  env_->onProcessExit();
  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.error_type, "Sandbox.Timedout");
  EXPECT_EQ(r.payload,
            errorJson("Sandbox.Timedout",
                      "RequestId: req-1 Error: Init phase timed out after 10.00 seconds"));
  ASSERT_TRUE(r.init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*r.init_duration_ms, 10000.0);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_NE(log().find("INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout\t"
                       "Error Type: Sandbox.Timedout\n"),
            std::string::npos);
}

TEST_F(EnvironmentTest, InitTimeoutMessageNamesTheConfiguredTimeout) {
  EnvironmentOptions options;
  options.init_timeout = 2500ms;
  makeEnv(options);
  coldStart("req-1");
  timers_.advance(2500ms);
  ASSERT_EQ(env_->state(), EnvState::Dead);
  process_->setExit(sys::ExitStatus{true, SIGKILL});
  env_->onProcessExit();
  EXPECT_EQ(only("req-1").payload,
            errorJson("Sandbox.Timedout",
                      "RequestId: req-1 Error: Init phase timed out after 2.50 seconds"));
}

TEST_F(EnvironmentTest, NextBeforeTheInitTimeoutCancelsIt) {
  makeEnv();
  coldStart("req-1");
  timers_.advance(9999ms);
  env_->onNext(deliverer());
  ASSERT_EQ(delivered_.size(), 1u);
  ASSERT_EQ(env_->onResponse("req-1", "{}").status, 202);
  timers_.advance(60s);
  EXPECT_EQ(process_->kill_calls.load(), 0);
  EXPECT_EQ(env_->state(), EnvState::Busy);
  EXPECT_TRUE(dead_.empty());
}

TEST_F(EnvironmentTest, SecondResponseIsInvalidStateTransition) {
  makeEnv();
  coldInvoke("req-1", 1ms, 1ms);
  const rapi::PostOutcome again = env_->onResponse("req-1", "\"again\"");
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(again.error_type, "InvalidStateTransition");
  EXPECT_EQ(again.error_message,
            "State transition from RuntimeResponseSentState to InvocationResponse failed for "
            "runtime. Error: State transition is not allowed");
  const rapi::PostOutcome error = env_->onError("req-1", "{}", "");
  EXPECT_EQ(error.status, 403);
  EXPECT_EQ(error.error_type, "InvalidStateTransition");
  EXPECT_EQ(error.error_message,
            "State transition from RuntimeResponseSentState to InvocationErrorResponse failed "
            "for runtime. Error: State transition is not allowed");
  EXPECT_EQ(answers("req-1"), 1u);
  EXPECT_EQ(only("req-1").payload, "\"ok\"");
}

TEST_F(EnvironmentTest, UnknownRequestIdIsInvalidRequestId) {
  makeEnv();
  coldStart("req-1");
  // Nothing in flight yet.
  rapi::PostOutcome early = env_->onResponse("req-1", "{}");
  EXPECT_EQ(early.status, 400);
  EXPECT_EQ(early.error_type, "InvalidRequestID");

  env_->onNext(deliverer());
  rapi::PostOutcome wrong = env_->onResponse("req-0", "{}");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.error_type, "InvalidRequestID");
  EXPECT_EQ(wrong.error_message, "Invalid request ID");
  rapi::PostOutcome wrong_error = env_->onError("req-0", "{}", "X");
  EXPECT_EQ(wrong_error.status, 400);
  EXPECT_EQ(wrong_error.error_type, "InvalidRequestID");
  EXPECT_EQ(answers("req-1"), 0u);
  EXPECT_EQ(answers("req-0"), 0u);
  // The real invocation is unaffected.
  EXPECT_EQ(env_->onResponse("req-1", "{}").status, 202);
  EXPECT_EQ(answers("req-1"), 1u);
}

TEST_F(EnvironmentTest, ErrorResponseReportsTheFunctionError) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  const std::string body = R"({"errorMessage":"boom","errorType":"ValueError","stackTrace":[]})";
  EXPECT_EQ(env_->onError("req-1", std::string(body), "").status, 202);
  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.payload, body);
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, "ValueError");
}

TEST_F(EnvironmentTest, ErrorTypeFallsBackToHeaderThenUnhandled) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  EXPECT_EQ(env_->onError("req-1", "not json", "Custom.Type").status, 202);
  EXPECT_EQ(only("req-1").error_type, "Custom.Type");
  EXPECT_EQ(only("req-1").payload, "not json");

  env_->onNext(deliverer());
  InvokeRequest second = request("req-2");
  ASSERT_TRUE(env_->dispatch(second));
  EXPECT_EQ(env_->onError("req-2", "[]", "").status, 202);
  EXPECT_EQ(only("req-2").error_type, "Unhandled");
}

TEST_F(EnvironmentTest, ResponseTooLargeFailsWithFunctionResponseSizeTooLarge) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  // A different request id: still 413 for the runtime, but the invocation is untouched.
  rapi::PostOutcome other = env_->onResponseTooLarge("req-0", 7340032);
  EXPECT_EQ(other.status, 413);
  EXPECT_EQ(answers("req-1"), 0u);

  rapi::PostOutcome outcome = env_->onResponseTooLarge("req-1", 7340032);
  EXPECT_EQ(outcome.status, 413);
  EXPECT_EQ(outcome.error_type, "RequestEntityTooLarge");
  EXPECT_EQ(outcome.error_message, "Exceeded maximum allowed payload size (6291556 bytes).");
  const InvokeResult& r = only("req-1");
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, "Function.ResponseSizeTooLarge");
  EXPECT_EQ(r.payload,
            errorJson("Function.ResponseSizeTooLarge",
                      "Response payload size exceeded maximum allowed payload size (6291556 "
                      "bytes)."));
  EXPECT_NE(log().find("Response payload size (7340032 bytes) exceeded maximum allowed payload "
                       "size (6291556 bytes).\nEND RequestId: req-1\n"),
            std::string::npos);
  // The environment survives: the runtime's next /next makes it idle.
  env_->onNext(deliverer());
  EXPECT_EQ(env_->state(), EnvState::Idle);
  // A second too-large post for the finished invocation answers nobody again.
  EXPECT_EQ(env_->onResponseTooLarge("req-1", 7340032).status, 413);
  EXPECT_EQ(answers("req-1"), 1u);
}

TEST_F(EnvironmentTest, InitErrorAfterInitIsForbidden) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  const rapi::PostOutcome outcome = env_->onInitError("{}", "Runtime.Whatever");
  EXPECT_EQ(outcome.status, 403);
  EXPECT_EQ(outcome.error_type, "InvalidStateTransition");
  EXPECT_EQ(outcome.error_message,
            "State transition from Ready to InitError failed for runtime. Error: State "
            "transition is not allowed");
  EXPECT_EQ(env_->state(), EnvState::Busy);
  EXPECT_EQ(answers("req-1"), 0u);
}

TEST_F(EnvironmentTest, ShutdownWithInvocationInFlightFailsIt) {
  makeEnv();
  coldStart("req-1");
  env_->onNext(deliverer());
  env_->shutdown();
  const InvokeResult& r = only("req-1");
  EXPECT_EQ(r.error_type, "Runtime.ExitError");
  EXPECT_EQ(r.payload, errorJson("Runtime.ExitError",
                                 "RequestId: req-1 Error: Runtime exited with error: signal: killed"));
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(timers_.pendingCount(), 0u);
  env_->shutdown();  // idempotent
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(answers("req-1"), 1u);
}

TEST_F(EnvironmentTest, ShutdownDuringInitFailsThePendingInvocation) {
  makeEnv();
  coldStart("req-1");
  env_->shutdown();
  EXPECT_EQ(only("req-1").payload,
            errorJson("Runtime.ExitError",
                      "RequestId: req-1 Error: Runtime exited with error: signal: killed"));
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  // The init timer must not fire into a dead environment later.
  timers_.advance(60s);
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(dead_.size(), 1u);
  // Neither does the process's exit answer twice.
  process_->setExit(sys::ExitStatus{true, SIGKILL});
  env_->onProcessExit();
  EXPECT_EQ(answers("req-1"), 1u);
}

TEST_F(EnvironmentTest, ShutdownOfIdleEnvironmentAnswersNobody) {
  makeEnv();
  coldInvoke("req-1", 1ms, 1ms);
  env_->onNext(deliverer());
  env_->shutdown();
  EXPECT_EQ(answers("req-1"), 1u);
  EXPECT_EQ(process_->kill_calls.load(), 1);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(transitions_.back(), std::make_pair(EnvState::Idle, EnvState::Dead));
}

TEST_F(EnvironmentTest, AbandonFailsThePendingInvocationWithTheGivenError) {
  makeEnv();
  env_->begin(request("req-1"), clock_.now());
  env_->abandon(rapi::kFnInvalidEntrypoint, "RequestId: req-1 Error: execve(bootstrap): ENOENT");
  EXPECT_EQ(only("req-1").payload,
            errorJson("Runtime.InvalidEntrypoint",
                      "RequestId: req-1 Error: execve(bootstrap): ENOENT"));
  EXPECT_EQ(env_->state(), EnvState::Dead);
  EXPECT_EQ(dead_.size(), 1u);
  EXPECT_EQ(timers_.pendingCount(), 0u);
}

TEST_F(EnvironmentTest, NextBeforeAttachIsHeldUntilAttachAndAttachAfterDeathKills) {
  makeEnv();
  // The runtime may call /next before the engine has attached the process object: the
  // invocation is delivered only once the process (its output, its memory) is wired.
  env_->begin(request("req-1"), clock_.now());
  timers_.advance(4ms);
  env_->onNext(deliverer());
  EXPECT_EQ(delivered_.size(), 0u);
  EXPECT_EQ(env_->pid(), -1);
  timers_.advance(1ms);
  env_->attach(std::make_unique<fakes::FakeSandboxProcess>(process_));
  ASSERT_EQ(delivered_.size(), 1u);
  EXPECT_EQ(env_->state(), EnvState::Busy);
  EXPECT_EQ(env_->pid(), 4242);
  EXPECT_EQ(process_->kill_calls.load(), 0);

  // An environment that died before attach() kills the late process at once.
  auto other = std::make_shared<fakes::FakeProcessState>();
  env_->shutdown();
  EXPECT_EQ(process_->kill_calls.load(), 1);
  env_->attach(std::make_unique<fakes::FakeSandboxProcess>(other));
  EXPECT_EQ(other->kill_calls.load(), 1);
}

TEST_F(EnvironmentTest, HooksFollowTheLifeCycle) {
  makeEnv();
  // A pool that hands queued work to an environment as soon as it reports idle; this also
  // proves hooks run without the environment's lock held.
  std::vector<InvokeRequest> queue;
  on_idle_extra_ = [&queue](const std::shared_ptr<Environment>& env) {
    EXPECT_EQ(env->state(), EnvState::Idle);
    if (!queue.empty() && env->dispatch(queue.back())) queue.pop_back();
  };
  coldInvoke("req-1", 1ms, 1ms);
  queue.push_back(request("req-2"));
  env_->onNext(deliverer());  // idle -> hook dispatches req-2 at once
  ASSERT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(delivered_[1].request_id, "req-2");
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(env_->state(), EnvState::Busy);
  ASSERT_EQ(env_->onResponse("req-2", "{}").status, 202);
  env_->onNext(deliverer());  // idle, nothing queued
  EXPECT_EQ(env_->state(), EnvState::Idle);
  process_->setExit(sys::ExitStatus{false, 0});
  env_->onProcessExit();

  EXPECT_EQ(idle_.size(), 2u);
  ASSERT_EQ(dead_.size(), 1u);
  EXPECT_EQ(dead_[0], env_.get());
  EXPECT_EQ(transitions_, (Transitions{{EnvState::Starting, EnvState::Initializing},
                                       {EnvState::Initializing, EnvState::Busy},
                                       {EnvState::Busy, EnvState::Idle},
                                       {EnvState::Idle, EnvState::Busy},
                                       {EnvState::Busy, EnvState::Idle},
                                       {EnvState::Idle, EnvState::Dead}}));
}

TEST_F(EnvironmentTest, EnqueuedRequestRunsOnTheRuntimesNextPoll) {
  makeEnv();
  coldInvoke("req-1", 10ms, 10ms);
  ASSERT_EQ(returning_.size(), 1u);  // answered: the pool may queue work here
  EXPECT_EQ(returning_[0], env_.get());
  ASSERT_EQ(env_->state(), EnvState::Busy);

  InvokeRequest second = request("req-2");
  EXPECT_TRUE(env_->enqueue(second));
  InvokeRequest third = request("req-3");
  EXPECT_FALSE(env_->enqueue(third));  // one slot only
  EXPECT_EQ(third.request_id, "req-3");
  ASSERT_TRUE(static_cast<bool>(third.done));
  EXPECT_EQ(timers_.pendingCount(), 1u);  // the queue-wait timer

  timers_.advance(3ms);
  env_->onNext(deliverer());
  ASSERT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(delivered_[1].request_id, "req-2");
  EXPECT_EQ(delivered_[1].deadline_epoch_ms, kEpoch + 23 + 3000);
  EXPECT_EQ(env_->state(), EnvState::Busy);
  EXPECT_TRUE(idle_.empty());  // never idle in between
  EXPECT_EQ(timers_.pendingCount(), 1u);  // queue timer cancelled, invoke timer armed

  timers_.advance(4ms);
  ASSERT_EQ(env_->onResponse("req-2", "\"two\"").status, 202);
  const InvokeResult& r = only("req-2");
  EXPECT_EQ(r.payload, "\"two\"");
  EXPECT_FALSE(r.cold);
  EXPECT_FALSE(r.init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(r.duration_ms, 4.0);
  EXPECT_EQ(returning_.size(), 2u);
  EXPECT_TRUE(requeued_.empty());
  // The queue-wait deadline passing later changes nothing.
  timers_.advance(1s);
  EXPECT_TRUE(requeued_.empty());
  EXPECT_EQ(transitions_, (Transitions{{EnvState::Starting, EnvState::Initializing},
                                       {EnvState::Initializing, EnvState::Busy}}));
}

TEST_F(EnvironmentTest, EnqueueNeedsAnAnsweredBusyEnvironment) {
  makeEnv();
  InvokeRequest warm = request("warm");
  EXPECT_FALSE(env_->enqueue(warm));  // Starting
  coldStart("req-1");
  EXPECT_FALSE(env_->enqueue(warm));  // Initializing
  env_->onNext(deliverer());
  EXPECT_FALSE(env_->enqueue(warm));  // Busy, not answered yet
  ASSERT_EQ(env_->onResponse("req-1", "{}").status, 202);
  env_->onNext(deliverer());
  ASSERT_EQ(env_->state(), EnvState::Idle);
  EXPECT_FALSE(env_->enqueue(warm));  // Idle: dispatch() is the way in
  env_->shutdown();
  EXPECT_FALSE(env_->enqueue(warm));  // Dead
  EXPECT_EQ(warm.request_id, "warm");
  EXPECT_EQ(warm.payload, R"({"key":"value"})");
  EXPECT_TRUE(requeued_.empty());
}

TEST_F(EnvironmentTest, QueuedRequestGoesBackWhenNextIsLate) {
  makeEnv();
  coldInvoke("req-1", 1ms, 1ms);
  InvokeRequest second = request("req-2");
  ASSERT_TRUE(env_->enqueue(second));
  timers_.advance(999ms);
  EXPECT_TRUE(requeued_.empty());
  timers_.advance(1ms);  // queue_wait defaults to 1 s
  ASSERT_EQ(requeued_.size(), 1u);
  EXPECT_EQ(requeued_[0].request_id, "req-2");
  EXPECT_EQ(requeued_[0].payload, R"({"key":"value"})");
  EXPECT_EQ(env_->state(), EnvState::Busy);
  // The late /next then finds nothing queued: the environment goes idle.
  env_->onNext(deliverer());
  EXPECT_EQ(env_->state(), EnvState::Idle);
  EXPECT_EQ(idle_.size(), 1u);
  EXPECT_EQ(delivered_.size(), 1u);
  // The requeued request is intact: its done() still reaches the caller.
  requeued_[0].done(InvokeResult{});
  EXPECT_EQ(answers("req-2"), 1u);
}

TEST_F(EnvironmentTest, QueuedRequestGoesBackWhenTheEnvironmentDies) {
  makeEnv();
  coldInvoke("req-1", 1ms, 1ms);
  InvokeRequest second = request("req-2");
  ASSERT_TRUE(env_->enqueue(second));
  process_->setExit(sys::ExitStatus{false, 0});
  env_->onProcessExit();
  EXPECT_EQ(env_->state(), EnvState::Dead);
  ASSERT_EQ(requeued_.size(), 1u);
  EXPECT_EQ(requeued_[0].request_id, "req-2");
  EXPECT_EQ(answers("req-2"), 0u);  // not failed: placed elsewhere by the pool
  EXPECT_EQ(timers_.pendingCount(), 0u);
  timers_.advance(1s);
  EXPECT_EQ(requeued_.size(), 1u);
}

TEST(EnvStateNameTest, NamesEveryState) {
  EXPECT_STREQ(envStateName(EnvState::Starting), "starting");
  EXPECT_STREQ(envStateName(EnvState::Initializing), "initializing");
  EXPECT_STREQ(envStateName(EnvState::Idle), "idle");
  EXPECT_STREQ(envStateName(EnvState::Busy), "busy");
  EXPECT_STREQ(envStateName(EnvState::Dead), "dead");
}

}  // namespace
}  // namespace kindling::scheduler

namespace kindling::scheduler {
namespace {

TEST_F(EnvironmentTest, IdleEnvironmentIsFrozenAfterTheGraceAndThawedByDispatch) {
  process_->can_freeze = true;
  EnvironmentOptions options;
  options.freeze_after = std::chrono::seconds(1);
  makeEnv(options);
  coldInvoke("req-1", 100ms, 10ms);
  env_->onNext(deliverer());
  ASSERT_EQ(env_->state(), EnvState::Idle);
  timers_.advance(999ms);
  EXPECT_EQ(process_->freeze_calls.load(), 0);
  EXPECT_FALSE(env_->frozen());
  timers_.advance(1ms);
  EXPECT_EQ(process_->freeze_calls.load(), 1);
  EXPECT_TRUE(env_->frozen());

  InvokeRequest second = request("req-2");
  EXPECT_TRUE(env_->dispatch(second));
  EXPECT_EQ(process_->thaw_calls.load(), 1);
  EXPECT_FALSE(env_->frozen());
  ASSERT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(delivered_[1].request_id, "req-2");
}

TEST_F(EnvironmentTest, ADispatchWithinTheGraceNeverFreezes) {
  process_->can_freeze = true;
  makeEnv();
  coldInvoke("req-1", 100ms, 10ms);
  env_->onNext(deliverer());
  timers_.advance(500ms);
  InvokeRequest second = request("req-2");
  EXPECT_TRUE(env_->dispatch(second));
  timers_.advance(5s);  // busy: the cancelled timer must not freeze it
  EXPECT_EQ(process_->freeze_calls.load(), 0);
  EXPECT_EQ(process_->thaw_calls.load(), 0);
}

TEST_F(EnvironmentTest, FreezingIsOffWhenTheSandboxCannotFreezeOrGraceIsZero) {
  makeEnv();  // can_freeze is false
  coldInvoke("req-1", 100ms, 10ms);
  env_->onNext(deliverer());
  timers_.advance(10s);
  EXPECT_EQ(process_->freeze_calls.load(), 0);
}

}  // namespace
}  // namespace kindling::scheduler

namespace kindling::scheduler {
namespace {

// SnapStart: a published version with ApplyOn=PublishedVersions goes through the snap-start flow.
class SnapStartEnvironmentTest : public EnvironmentTest {
 protected:
  SnapStartEnvironmentTest() {
    auto config = std::make_shared<store::FunctionConfig>(*config_);
    config->runtime = "python3.12";
    config->version = "3";
    config->snap_start_apply_on = "PublishedVersions";
    config_ = config;
  }
  // The runtime's GET /restore/next; `restored` counts its 200s.
  std::optional<rapi::PostOutcome> restoreNext() {
    return env_->onRestoreNext([this] { ++restored_; });
  }
  int restored_ = 0;
};

TEST_F(SnapStartEnvironmentTest, RestoreThenFirstNextReportsRestoreDurationNotInit) {
  makeEnv();
  EXPECT_TRUE(env_->snapStart());
  coldStart("req-1");
  timers_.advance(100ms);  // init + before-snapshot hooks
  EXPECT_FALSE(restoreNext().has_value());
  EXPECT_EQ(restored_, 1);  // no snapshot mechanism: restored at once
  EXPECT_EQ(env_->state(), EnvState::Initializing);
  timers_.advance(20ms);  // after-restore hooks
  env_->onNext(deliverer());
  ASSERT_EQ(delivered_.size(), 1u);
  timers_.advance(5ms);
  ASSERT_EQ(env_->onResponse("req-1", "\"ok\"").status, 202);
  const InvokeResult& r = only("req-1");
  EXPECT_TRUE(r.cold);
  EXPECT_FALSE(r.init_duration_ms.has_value());
  ASSERT_TRUE(r.restore_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*r.restore_duration_ms, 120.0);
  EXPECT_EQ(log(),
            "START RequestId: req-1 Version: 3\n"
            "END RequestId: req-1\n"
            "REPORT RequestId: req-1\tDuration: 5.00 ms\tBilled Duration: 5 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 0 MB\tRestore Duration: 120.00 ms\t"
            "Billed Restore Duration: 120 ms\t\n");

  // Warm: neither field; a second restore/next is out of order.
  env_->onNext(deliverer());
  InvokeRequest warm = request("req-2");
  ASSERT_TRUE(env_->dispatch(warm));
  ASSERT_EQ(env_->onResponse("req-2", "\"ok\"").status, 202);
  EXPECT_FALSE(only("req-2").restore_duration_ms.has_value());
  EXPECT_FALSE(only("req-2").init_duration_ms.has_value());
  auto again = restoreNext();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 403);
  EXPECT_EQ(again->error_type, rapi::kErrInvalidStateTransition);
  EXPECT_EQ(restored_, 1);
}

TEST_F(SnapStartEnvironmentTest, SnapshotPointHookHoldsRestoreNextUntilRestore) {
  std::vector<Environment*> points;
  on_snapshot_point_ = [&points](const std::shared_ptr<Environment>& env) {
    points.push_back(env.get());
  };
  makeEnv();
  env_->begin(request("req-1"), clock_.now());
  // restore/next before attach(): the snapshot point waits for the process.
  EXPECT_FALSE(restoreNext().has_value());
  EXPECT_TRUE(points.empty());
  env_->attach(std::make_unique<fakes::FakeSandboxProcess>(process_));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0], env_.get());
  EXPECT_EQ(restored_, 0);  // held until the owner restores it
  env_->restore();
  EXPECT_EQ(restored_, 1);
  env_->restore();  // no-op once restored
  EXPECT_EQ(restored_, 1);
  env_->onNext(deliverer());
  EXPECT_EQ(delivered_.size(), 1u);
}

TEST_F(SnapStartEnvironmentTest, RestoreErrorFailsWithAfterRestoreError) {
  makeEnv();
  coldStart("req-1");
  // restore/error before restore/next is out of order.
  EXPECT_EQ(env_->onRestoreError("{}", "Runtime.AfterRestoreError").status, 403);
  timers_.advance(30ms);
  ASSERT_FALSE(restoreNext().has_value());
  timers_.advance(10ms);
  const std::string body =
      R"({"errorMessage": "no network", "errorType": "ConnectionError", "requestId": "", )"
      R"("stackTrace": ["  File \"/var/task/app.py\", line 9, in reconnect\n"]})";
  const rapi::PostOutcome posted = env_->onRestoreError(std::string(body), "Runtime.AfterRestoreError");
  EXPECT_EQ(posted.status, 202);
  EXPECT_EQ(answers("req-1"), 0u);
  // A runtime that polls /next anyway is killed; never served.
  env_->onNext(deliverer());
  EXPECT_TRUE(delivered_.empty());
  process_->setExit(sys::ExitStatus{false, 65});
  env_->onProcessExit();
  const InvokeResult& r = only("req-1");
  EXPECT_TRUE(r.function_error);
  EXPECT_EQ(r.error_type, "Runtime.AfterRestoreError");
  auto j = nlohmann::json::parse(r.payload);
  EXPECT_EQ(j["errorType"], "Runtime.AfterRestoreError");
  EXPECT_EQ(j["errorMessage"], "no network");
  EXPECT_EQ(j["stackTrace"].size(), 1u);
  ASSERT_TRUE(r.restore_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*r.restore_duration_ms, 40.0);
  EXPECT_EQ(env_->state(), EnvState::Dead);
  const std::string text = log();
  EXPECT_EQ(text.rfind("RESTORE_REPORT Restore Duration: 40.00 ms\tStatus: error\t"
                       "Error Type: Runtime.AfterRestoreError\n", 0), 0u) << text;
  EXPECT_NE(text.find("\tRestore Duration: 40.00 ms\tBilled Restore Duration: 40 ms\t\n"),
            std::string::npos) << text;
}

TEST_F(EnvironmentTest, RestoreEndpointsAre404OutsideSnapStart) {
  // $LATEST (even with ApplyOn=PublishedVersions) and versions without SnapStart: unchanged.
  auto config = std::make_shared<store::FunctionConfig>(*config_);
  config->snap_start_apply_on = "PublishedVersions";  // version stays $LATEST
  config_ = config;
  makeEnv();
  EXPECT_FALSE(env_->snapStart());
  coldStart("req-1");
  auto refused = env_->onRestoreNext([] { ADD_FAILURE() << "restored a non-snap-start env"; });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 404);
  EXPECT_EQ(env_->onRestoreError("{}", "").status, 404);
  timers_.advance(10ms);
  env_->onNext(deliverer());
  ASSERT_EQ(env_->onResponse("req-1", "1").status, 202);
  EXPECT_TRUE(only("req-1").init_duration_ms.has_value());
  EXPECT_FALSE(only("req-1").restore_duration_ms.has_value());
}

}  // namespace
}  // namespace kindling::scheduler
