// FakeClock: a kindling::Clock whose time moves only when a test advances it, so durations,
// deadlines and timestamps in scheduler tests are exact values rather than measurements.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace kindling::fakes {

class FakeClock final : public Clock {
 public:
  // Starts at monotonic time `start` and wall time `epoch_ms` (both move together).
  explicit FakeClock(int64_t epoch_ms = 1700000000000,
                     TimePoint start = TimePoint(std::chrono::hours(1)))
      : start_(start), start_epoch_ms_(epoch_ms) {}

  // Thread-safe.
  TimePoint now() const override { return start_ + Duration(offset_ns_.load()); }
  // Wall clock: start epoch plus the elapsed fake time, truncated to whole ms. Thread-safe.
  int64_t epochMillis() const override {
    return start_epoch_ms_ + offset_ns_.load() / 1'000'000;
  }
  // Moves both clocks forward by d (d >= 0). Thread-safe. Fires no timers: see FakeTimers.
  void advance(Duration d) { offset_ns_.fetch_add(d.count()); }
  // Fake time elapsed since construction. Thread-safe.
  Duration elapsed() const { return Duration(offset_ns_.load()); }

 private:
  const TimePoint start_;
  const int64_t start_epoch_ms_;
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace kindling::fakes
