// FakeSandboxProcess / FakeSandbox: the sandbox seam without processes. A test keeps the
// FakeProcessState (shared with the process object, which the environment owns and may destroy)
// to set what the "process" reports (peak memory, OOM, exit status) and to see whether it was
// killed or reaped. FakeSandbox records every SpawnSpec and hands out fake processes, or fails.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "sandbox/sandbox.h"

namespace kindling::fakes {

// What a fake process reports, and what was done to it. Fields are atomics (or guarded by mu)
// so tests may read them from any thread.
struct FakeProcessState {
  std::atomic<pid_t> pid{4242};
  std::atomic<uint64_t> peak_memory_bytes{0};
  std::atomic<bool> oom_killed{false};
  std::atomic<int> kill_calls{0};
  std::atomic<int> reap_calls{0};
  std::atomic<bool> can_freeze{false};
  std::atomic<int> freeze_calls{0};
  std::atomic<int> thaw_calls{0};
  std::mutex mu;
  Result<sys::ExitStatus> exit_status = sys::ExitStatus{};  // guarded by mu; returned by reap()

  // Sets what reap() returns. Thread-safe.
  void setExit(Result<sys::ExitStatus> status) {
    std::lock_guard lock(mu);
    exit_status = std::move(status);
  }
};

class FakeSandboxProcess final : public sandbox::SandboxProcess {
 public:
  explicit FakeSandboxProcess(std::shared_ptr<FakeProcessState> state)
      : state_(std::move(state)) {}

  pid_t pid() const override { return state_->pid.load(); }
  // No real process: there is nothing to poll.
  int exitFd() const override { return -1; }
  Result<sys::ExitStatus> reap() override {
    state_->reap_calls.fetch_add(1);
    std::lock_guard lock(state_->mu);
    return state_->exit_status;
  }
  void kill() override { state_->kill_calls.fetch_add(1); }
  uint64_t peakMemoryBytes() const override { return state_->peak_memory_bytes.load(); }
  bool oomKilled() const override { return state_->oom_killed.load(); }
  bool canFreeze() const override { return state_->can_freeze.load(); }
  Status freeze() override {
    state_->freeze_calls.fetch_add(1);
    return {};
  }
  Status thaw() override {
    state_->thaw_calls.fetch_add(1);
    return {};
  }
  sys::UniqueFd takeStdout() override { return {}; }
  sys::UniqueFd takeStderr() override { return {}; }

 private:
  std::shared_ptr<FakeProcessState> state_;
};

class FakeSandbox final : public sandbox::Sandbox {
 public:
  // Records spec; returns a new fake process, or the configured error. Thread-safe.
  Result<std::unique_ptr<sandbox::SandboxProcess>> spawn(const sandbox::SpawnSpec& spec) override {
    std::lock_guard lock(mu_);
    specs_.push_back(spec);
    if (fail_) return tl::unexpected(*fail_);
    auto state = std::make_shared<FakeProcessState>();
    states_.push_back(state);
    return std::unique_ptr<sandbox::SandboxProcess>(new FakeSandboxProcess(std::move(state)));
  }
  // Makes every later spawn() fail with `error` (or succeed again with nullopt). Thread-safe.
  void failWith(std::optional<Error> error) {
    std::lock_guard lock(mu_);
    fail_ = std::move(error);
  }
  // Copies of what was spawned so far. Thread-safe.
  std::vector<sandbox::SpawnSpec> specs() const {
    std::lock_guard lock(mu_);
    return specs_;
  }
  std::vector<std::shared_ptr<FakeProcessState>> processes() const {
    std::lock_guard lock(mu_);
    return states_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<sandbox::SpawnSpec> specs_;                       // guarded by mu_
  std::vector<std::shared_ptr<FakeProcessState>> states_;       // guarded by mu_
  std::optional<Error> fail_;                                   // guarded by mu_
};

}  // namespace kindling::fakes
