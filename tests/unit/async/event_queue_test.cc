#include "async/event_queue.h"

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"
#include "store/registry.h"

namespace kindling::async {
namespace {

class EventQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = store::Registry::open(db());
    ASSERT_TRUE(registry) << registry.error().message();
    registry_ = std::move(*registry);
    reopen();
  }
  void reopen() {
    queue_.reset();
    auto q = EventQueue::open(db());
    ASSERT_TRUE(q) << q.error().message();
    queue_ = std::move(*q);
  }
  std::filesystem::path db() const { return dir_.path() / "registry.db"; }

  fakes::TempDir dir_;
  std::unique_ptr<store::Registry> registry_;
  std::unique_ptr<EventQueue> queue_;
};

TEST_F(EventQueueTest, ClaimsDueEventsInOrderAndHidesClaimedOnes) {
  ASSERT_TRUE(queue_->enqueue("r1", "fn", "", R"({"n":1})", 1000));
  ASSERT_TRUE(queue_->enqueue("r2", "fn", "v1", R"({"n":2})", 1000));
  ASSERT_TRUE(queue_->enqueue("r3", "other", "", R"({"n":3})", 2000));
  EXPECT_EQ(queue_->size(), 3u);
  EXPECT_EQ(queue_->nextDueMs(), 1000);

  auto none = queue_->claimDue(999, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto first = queue_->claimDue(1500, 10);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].request_id, "r1");
  EXPECT_EQ((*first)[0].function, "fn");
  EXPECT_EQ((*first)[0].qualifier, "");
  EXPECT_EQ((*first)[0].payload, R"({"n":1})");
  EXPECT_EQ((*first)[0].enqueued_ms, 1000);
  EXPECT_EQ((*first)[1].request_id, "r2");
  EXPECT_EQ((*first)[1].qualifier, "v1");
  EXPECT_EQ(queue_->claimed(), 2u);
  EXPECT_EQ(queue_->nextDueMs(), 2000);

  // Claimed events are not handed out twice.
  auto rest = queue_->claimDue(5000, 10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].request_id, "r3");
  EXPECT_FALSE(queue_->nextDueMs().has_value());
}

TEST_F(EventQueueTest, ClaimRespectsMax) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue_->enqueue("r" + std::to_string(i), "fn", "", "{}", 10));
  auto two = queue_->claimDue(10, 2);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);
  auto three = queue_->claimDue(10, 100);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->size(), 3u);
}

TEST_F(EventQueueTest, ReschedulePersistsCountersAndDueTime) {
  ASSERT_TRUE(queue_->enqueue("r1", "fn", "", "{}", 1000));
  auto claimed = queue_->claimDue(1000, 1);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  AsyncEvent e = (*claimed)[0];
  e.attempts = 1;
  e.throttles = 3;
  e.next_attempt_ms = 61000;
  e.last_response = R"({"errorMessage":"boom"})";
  e.last_version = "$LATEST";
  e.last_function_error = "Unhandled";
  ASSERT_TRUE(queue_->reschedule(e));
  EXPECT_EQ(queue_->nextDueMs(), 61000);
  auto early = queue_->claimDue(60999, 1);
  ASSERT_TRUE(early);
  EXPECT_TRUE(early->empty());

  reopen();  // the new values are on disk
  auto again = queue_->claimDue(61000, 1);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].attempts, 1);
  EXPECT_EQ((*again)[0].throttles, 3);
  EXPECT_EQ((*again)[0].last_response, R"({"errorMessage":"boom"})");
  EXPECT_EQ((*again)[0].last_version, "$LATEST");
  EXPECT_EQ((*again)[0].last_function_error, "Unhandled");
  EXPECT_EQ((*again)[0].enqueued_ms, 1000);
}

TEST_F(EventQueueTest, CompleteDeletesDurably) {
  auto id = queue_->enqueue("r1", "fn", "", "{}", 1);
  ASSERT_TRUE(id);
  ASSERT_TRUE(queue_->enqueue("r2", "fn", "", "{}", 1));
  auto claimed = queue_->claimDue(1, 1);
  ASSERT_TRUE(claimed);
  ASSERT_TRUE(queue_->complete(*id));
  EXPECT_EQ(queue_->size(), 1u);
  reopen();
  EXPECT_EQ(queue_->size(), 1u);
  auto rest = queue_->claimDue(1, 10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].request_id, "r2");
}

TEST_F(EventQueueTest, ClaimedButUncompletedEventIsRedeliveredAfterCrash) {
  ASSERT_TRUE(queue_->enqueue("r1", "fn", "", R"({"k":"v"})", 1));
  auto claimed = queue_->claimDue(1, 1);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_FALSE(queue_->nextDueMs().has_value());
  reopen();  // the process "died" with the event claimed and no outcome recorded
  auto again = queue_->claimDue(1, 1);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].request_id, "r1");
  EXPECT_EQ((*again)[0].payload, R"({"k":"v"})");
}

TEST_F(EventQueueTest, ReleaseMakesEventClaimableAgainAndPayloadReadsBack) {
  auto id = queue_->enqueue("r1", "fn", "", R"([1,2,3])", 5);
  ASSERT_TRUE(id);
  ASSERT_TRUE(queue_->claimDue(5, 1));
  queue_->release(*id, 7);
  EXPECT_EQ(queue_->nextDueMs(), 7);
  auto payload = queue_->payload(*id);
  ASSERT_TRUE(payload);
  EXPECT_EQ(*payload, "[1,2,3]");
  ASSERT_TRUE(queue_->complete(*id));
  auto gone = queue_->payload(*id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
  EXPECT_EQ(queue_->size(), 0u);
}

}  // namespace
}  // namespace kindling::async
