// The fakes the scheduler tests rely on: FakeTimers fires in due order at the exact fake time.
#include "fakes/fake_timers.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kindling::fakes {
namespace {

using namespace std::chrono_literals;

TEST(FakeTimersTest, FiresDueCallbacksInOrderAtTheirTime) {
  FakeClock clock(1000);
  FakeTimers timers(clock);
  std::vector<std::string> fired;
  auto at = [&](const char* name) {
    return [&fired, &clock, name] {
      fired.push_back(std::string(name) + "@" + std::to_string(clock.epochMillis()));
    };
  };
  timers.schedule(30ms, at("c"));
  timers.schedule(10ms, at("a"));
  const auto b = timers.schedule(20ms, at("b"));
  timers.schedule(10ms, at("a2"));  // same due time: scheduling order
  timers.cancel(b);
  timers.advance(9ms);
  EXPECT_TRUE(fired.empty());
  timers.advance(25ms);
  EXPECT_EQ(fired, (std::vector<std::string>{"a@1010", "a2@1010", "c@1030"}));
  EXPECT_EQ(clock.epochMillis(), 1034);
  EXPECT_EQ(timers.firedCount(), 3u);
  EXPECT_EQ(timers.cancelledCount(), 1u);
  EXPECT_EQ(timers.pendingCount(), 0u);
}

TEST(FakeTimersTest, CallbacksMayScheduleWithinTheSameAdvance) {
  FakeClock clock(0);
  FakeTimers timers(clock);
  std::vector<int64_t> fired;
  timers.schedule(5ms, [&] {
    fired.push_back(clock.epochMillis());
    timers.schedule(5ms, [&] { fired.push_back(clock.epochMillis()); });
  });
  timers.advance(12ms);
  EXPECT_EQ(fired, (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(clock.epochMillis(), 12);
}

TEST(FakeClockTest, MonotonicAndWallMoveTogether) {
  FakeClock clock(1700000000000);
  const auto start = clock.now();
  clock.advance(1500us);
  EXPECT_EQ(clock.now() - start, Clock::Duration(1500us));
  EXPECT_EQ(clock.epochMillis(), 1700000000001);
  EXPECT_EQ(clock.elapsed(), Clock::Duration(1500us));
}

}  // namespace
}  // namespace kindling::fakes
