// FakeTimers: scheduler::Timers driven by a FakeClock. schedule() only records the callback;
// advance() moves the clock to each due time in order and runs the callbacks that are due, on
// the calling thread, so timeouts fire deterministically and at an exact fake time.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "fakes/fake_clock.h"
#include "scheduler/timers.h"

namespace kindling::fakes {

class FakeTimers final : public scheduler::Timers {
 public:
  explicit FakeTimers(FakeClock& clock) : clock_(clock) {}

  // Records fn to run once the clock reaches now() + delay. Thread-safe.
  scheduler::TimerId schedule(Clock::Duration delay, std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    const scheduler::TimerId id = next_++;
    pending_.emplace(id, Entry{clock_.now() + delay, std::move(fn)});
    return id;
  }

  // Forgets a pending timer; no-op if it already ran. Thread-safe.
  void cancel(scheduler::TimerId id) override {
    std::lock_guard lock(mu_);
    if (pending_.erase(id)) ++cancelled_;
  }

  // Advances the clock by d, stopping at each due time (earliest first, then by id) to run the
  // callback without the lock held; callbacks may schedule or cancel. Thread-safe, but run it
  // from one test thread at a time.
  void advance(Clock::Duration d) {
    const Clock::TimePoint target = clock_.now() + d;
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard lock(mu_);
        auto due = pending_.end();
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
          if (it->second.when <= target &&
              (due == pending_.end() || it->second.when < due->second.when)) {
            due = it;
          }
        }
        if (due == pending_.end()) break;
        if (due->second.when > clock_.now()) clock_.advance(due->second.when - clock_.now());
        fn = std::move(due->second.fn);
        pending_.erase(due);
        ++fired_;
      }
      fn();
    }
    if (target > clock_.now()) clock_.advance(target - clock_.now());
  }

  // Timers scheduled and neither fired nor cancelled. Thread-safe.
  size_t pendingCount() const {
    std::lock_guard lock(mu_);
    return pending_.size();
  }
  // Timers that ran / were cancelled so far. Thread-safe.
  size_t firedCount() const {
    std::lock_guard lock(mu_);
    return fired_;
  }
  size_t cancelledCount() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  struct Entry {
    Clock::TimePoint when;
    std::function<void()> fn;
  };
  FakeClock& clock_;
  mutable std::mutex mu_;
  scheduler::TimerId next_ = 1;                       // guarded by mu_
  std::map<scheduler::TimerId, Entry> pending_;       // guarded by mu_ (ordered by id)
  size_t fired_ = 0;                                  // guarded by mu_
  size_t cancelled_ = 0;                              // guarded by mu_
};

}  // namespace kindling::fakes
