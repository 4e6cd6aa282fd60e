#include "scheduler/concurrency.h"

#include <gtest/gtest.h>

namespace kindling::scheduler {
namespace {

TEST(ConcurrencyLimiter, ReservedZeroThrottlesEverything) {
  ConcurrencyLimiter limiter;
  limiter.setReserved("f", 0);
  ThrottleReason reason = ThrottleReason::None;
  auto slot = limiter.tryAcquire("f", &reason);
  EXPECT_FALSE(slot.acquired);
  EXPECT_EQ(reason, ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded);
  EXPECT_EQ(throttleReasonName(reason), "ReservedFunctionConcurrentInvocationLimitExceeded");
}

TEST(ConcurrencyLimiter, ReservedCapsOneFunctionAndFreesOnRelease) {
  ConcurrencyLimiter limiter;
  limiter.setReserved("f", 1);
  ThrottleReason reason = ThrottleReason::None;
  auto first = limiter.tryAcquire("f", &reason);
  ASSERT_TRUE(first.acquired);
  EXPECT_TRUE(first.reserved_pool);
  EXPECT_FALSE(limiter.tryAcquire("f", &reason).acquired);
  EXPECT_EQ(reason, ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded);
  // Other functions are not affected.
  auto other = limiter.tryAcquire("g", &reason);
  EXPECT_TRUE(other.acquired);
  limiter.release("f", first);
  EXPECT_TRUE(limiter.tryAcquire("f", &reason).acquired);
  limiter.release("g", other);
}

TEST(ConcurrencyLimiter, UnreservedPoolIsAccountMinusReservations) {
  ConcurrencyLimiter limiter({/*account_limit=*/10, /*min_unreserved=*/2});
  limiter.setReserved("big", 7);
  EXPECT_EQ(limiter.unreservedLimit(), 3);
  ThrottleReason reason = ThrottleReason::None;
  std::vector<ConcurrencyLimiter::Slot> slots;
  for (int i = 0; i < 3; ++i) {
    slots.push_back(limiter.tryAcquire(i % 2 ? "a" : "b", &reason));
    ASSERT_TRUE(slots.back().acquired);
  }
  EXPECT_FALSE(limiter.tryAcquire("c", &reason).acquired);
  EXPECT_EQ(reason, ThrottleReason::ConcurrentInvocationLimitExceeded);
  // The reserved function still has its own 7.
  EXPECT_TRUE(limiter.tryAcquire("big", &reason).acquired);
  limiter.release("a", slots[1]);
  EXPECT_TRUE(limiter.tryAcquire("c", &reason).acquired);
}

TEST(ConcurrencyLimiter, ReservationMustLeaveMinimumUnreserved) {
  ConcurrencyLimiter limiter({1000, 100});
  EXPECT_TRUE(limiter.checkReservation("f", 900).has_value());
  auto too_much = limiter.checkReservation("f", 901);
  ASSERT_FALSE(too_much.has_value());
  EXPECT_NE(too_much.error().message().find("minimum value of [100]"), std::string::npos);
  auto beyond = limiter.checkReservation("f", 1001);
  ASSERT_FALSE(beyond.has_value());
  EXPECT_NE(beyond.error().message().find("unreserved concurrency [1000]"), std::string::npos);
  limiter.setReserved("g", 500);
  EXPECT_FALSE(limiter.checkReservation("f", 401).has_value());
  EXPECT_TRUE(limiter.checkReservation("f", 400).has_value());
  // Changing a function's own reservation does not count the old value against it.
  EXPECT_TRUE(limiter.checkReservation("g", 900).has_value());
}

TEST(ConcurrencyLimiter, SlotsKeepTheirPoolWhenTheReservationChanges) {
  ConcurrencyLimiter limiter({10, 1});
  ThrottleReason reason = ThrottleReason::None;
  auto unreserved = limiter.tryAcquire("f", &reason);
  ASSERT_TRUE(unreserved.acquired);
  EXPECT_FALSE(unreserved.reserved_pool);
  limiter.setReserved("f", 2);
  auto reserved = limiter.tryAcquire("f", &reason);
  ASSERT_TRUE(reserved.acquired);
  EXPECT_TRUE(reserved.reserved_pool);
  limiter.release("f", unreserved);
  limiter.release("f", reserved);
  EXPECT_EQ(limiter.inFlight("f"), 0);
  limiter.removeFunction("f");
  EXPECT_EQ(limiter.unreservedLimit(), 10);
}

}  // namespace
}  // namespace kindling::scheduler
