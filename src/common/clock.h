// Clock interface: production code reads time through it so tests can use a FakeClock.
#pragma once

#include <chrono>
#include <cstdint>

namespace kindling {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time.
  virtual TimePoint now() const = 0;
  // Wall clock, milliseconds since the Unix epoch.
  virtual int64_t epochMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  int64_t epochMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline double toMillis(Clock::Duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace kindling
