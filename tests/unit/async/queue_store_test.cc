#include "async/queue_store.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/temp_dir.h"
#include "store/registry.h"

namespace kindling::async {
namespace {

class QueueStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = store::Registry::open(dir_.path() / "registry.db");
    ASSERT_TRUE(registry) << registry.error().message();
    registry_ = std::move(*registry);
    auto q = QueueStore::open(dir_.path() / "registry.db", clock_);
    ASSERT_TRUE(q) << q.error().message();
    queues_ = std::move(*q);
  }

  fakes::TempDir dir_;
  fakes::FakeClock clock_;
  std::unique_ptr<store::Registry> registry_;
  std::unique_ptr<QueueStore> queues_;
};

TEST(QueueNames, ParsesSqsArns) {
  EXPECT_EQ(sqsQueueName("arn:aws:sqs:us-east-1:000000000000:results"), "results");
  EXPECT_EQ(sqsQueueName("arn:aws:sqs:eu-west-1:123456789012:q.fifo"), "q.fifo");
  EXPECT_FALSE(sqsQueueName("arn:aws:sns:us-east-1:000000000000:topic"));
  EXPECT_FALSE(sqsQueueName("arn:aws:sqs:us-east-1:0000:q"));
  EXPECT_FALSE(sqsQueueName("arn:aws:sqs:us-east-1:000000000000:bad name"));
  EXPECT_FALSE(sqsQueueName("results"));
  EXPECT_EQ(sqsQueueArn("us-east-1", "q"), "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_FALSE(isValidQueueName(""));
  EXPECT_FALSE(isValidQueueName(std::string(81, 'a')));
  EXPECT_TRUE(isValidQueueName(std::string(80, 'a')));
}

TEST_F(QueueStoreTest, ReceiveHonoursMaxVisibilityAndReceiveCount) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queues_->send("q", "m" + std::to_string(i)));
  ASSERT_TRUE(queues_->send("other", "x"));

  auto two = queues_->receive("q", 2, 30000, false);
  ASSERT_TRUE(two) << two.error().message();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].body, "m0");
  EXPECT_EQ((*two)[1].body, "m1");
  EXPECT_EQ((*two)[0].receive_count, 1);
  EXPECT_EQ((*two)[0].sent_ms, clock_.epochMillis());

  // Hidden by the visibility timeout: only m2 is left to receive.
  auto rest = queues_->receive("q", 10, 30000, false);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].body, "m2");

  auto summary = queues_->list();
  ASSERT_TRUE(summary);
  ASSERT_EQ(summary->size(), 2u);
  EXPECT_EQ((*summary)[1].name, "q");
  EXPECT_EQ((*summary)[1].visible, 0);
  EXPECT_EQ((*summary)[1].in_flight, 3);

  clock_.advance(std::chrono::seconds(30));
  auto again = queues_->receive("q", 10, 0, false);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 3u);
  EXPECT_EQ((*again)[0].receive_count, 2);
}

TEST_F(QueueStoreTest, DeleteOnReceiveAndExplicitRemove) {
  auto id = queues_->send("q", "a", R"({"k":1})");
  ASSERT_TRUE(id);
  ASSERT_TRUE(queues_->send("q", "b"));
  auto got = queues_->receive("q", 1, 1000, true);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].message_id, *id);
  EXPECT_EQ((*got)[0].attributes, R"({"k":1})");
  auto missing = queues_->remove("q", *id);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);

  auto b = queues_->receive("q", 1, 0, false);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size(), 1u);
  ASSERT_TRUE(queues_->remove("q", (*b)[0].message_id));
  auto empty = queues_->receive("q", 10, 0, false);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto summary = queues_->list();
  ASSERT_TRUE(summary);
  EXPECT_TRUE(summary->empty());
}

TEST_F(QueueStoreTest, RejectsBadArguments) {
  EXPECT_FALSE(queues_->send("bad name", "x"));
  EXPECT_FALSE(queues_->receive("q", 0, 0, false));
  EXPECT_FALSE(queues_->receive("q", 11, 0, false));
  EXPECT_FALSE(queues_->receive("q", 1, -1, false));
}

}  // namespace
}  // namespace kindling::async
