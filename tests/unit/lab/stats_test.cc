#include "lab/stats.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace kindling::lab {
namespace {

TEST(Summarize, EmptyIsAllZero) {
  const Summary s = summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.min, 0);
  EXPECT_EQ(s.p50, 0);
  EXPECT_EQ(s.p99, 0);
  EXPECT_EQ(s.max, 0);
  EXPECT_EQ(s.mean, 0);
}

TEST(Summarize, OneSampleIsEveryStatistic) {
  const Summary s = summarize({7.5});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.min, 7.5);
  EXPECT_EQ(s.p50, 7.5);
  EXPECT_EQ(s.p90, 7.5);
  EXPECT_EQ(s.p99, 7.5);
  EXPECT_EQ(s.max, 7.5);
  EXPECT_EQ(s.mean, 7.5);
}

TEST(Summarize, TwoSamplesNearestRank) {
  // Sorted [2, 10]: p50 = rank ceil(0.5*2) = 1 -> 2; p90 = rank ceil(1.8) = 2 -> 10.
  const Summary s = summarize({10, 2});
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.min, 2);
  EXPECT_EQ(s.p50, 2);
  EXPECT_EQ(s.p90, 10);
  EXPECT_EQ(s.p99, 10);
  EXPECT_EQ(s.max, 10);
  EXPECT_EQ(s.mean, 6);
}

TEST(Summarize, HundredSamplesExactRanks) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  std::shuffle(v.begin(), v.end(), std::mt19937(42));
  const Summary s = summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);  // rank 50
  EXPECT_EQ(s.p90, 90);  // rank 90
  EXPECT_EQ(s.p99, 99);  // rank 99
  EXPECT_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(Summarize, KeepsOutliers) {
  // [1..9, 1000]: p99 = rank ceil(9.9) = 10 -> the outlier; mean (45 + 1000) / 10.
  const Summary s = summarize({1000, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(s.p50, 5);
  EXPECT_EQ(s.p90, 9);
  EXPECT_EQ(s.p99, 1000);
  EXPECT_EQ(s.max, 1000);
  EXPECT_DOUBLE_EQ(s.mean, 104.5);
}

TEST(PercentileSorted, EdgesAndRoundingNoise) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(percentileSorted(v, 0), 1);
  EXPECT_EQ(percentileSorted(v, 1), 100);
  EXPECT_EQ(percentileSorted(v, 0.001), 1);  // rank ceil(0.1) = 1
  // 0.07 * 100 is 7.000000000000001 in doubles: still rank 7, not 8.
  EXPECT_EQ(percentileSorted(v, 0.07), 7);
  EXPECT_EQ(percentileSorted(v, 0.95), 95);
  EXPECT_EQ(percentileSorted({}, 0.5), 0);
  const std::vector<double> twenty = [] {
    std::vector<double> t;
    for (int i = 1; i <= 20; ++i) t.push_back(i * 10);
    return t;
  }();
  EXPECT_EQ(percentileSorted(twenty, 0.95), 190);  // rank 19
  EXPECT_EQ(percentileSorted(twenty, 0.96), 200);  // rank ceil(19.2) = 20
}

TEST(TrimmedMean, PowerTuningDiscard) {
  // Sorted [1..9, 100], discard 0.2: drop floor(2) each end -> [3..8], mean 33 / 6 = 5.5.
  EXPECT_DOUBLE_EQ(trimmedMean({100, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.2), 5.5);
  // No discard: (45 + 100) / 10.
  EXPECT_DOUBLE_EQ(trimmedMean({100, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0), 14.5);
  // 0.3 * 10 = 3.0000000000000004: drop 3 each end -> [4..7], mean 5.5.
  EXPECT_DOUBLE_EQ(trimmedMean({100, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.3), 5.5);
  // n = 5, discard 0.2: drop 1 each end of [1, 2, 3, 4, 50] -> (2 + 3 + 4) / 3.
  EXPECT_DOUBLE_EQ(trimmedMean({50, 1, 4, 3, 2}, 0.2), 3);
  // n = 4, discard 0.2: floor(0.8) = 0 -> plain mean (1 + 2 + 3 + 10) / 4.
  EXPECT_DOUBLE_EQ(trimmedMean({10, 3, 2, 1}, 0.2), 4);
}

TEST(TrimmedMean, KeepsAtLeastOneValueAndEmptyIsZero) {
  EXPECT_EQ(trimmedMean({}, 0.2), 0);
  EXPECT_EQ(trimmedMean({}, 0), 0);
  EXPECT_DOUBLE_EQ(trimmedMean({1, 100, 7}, 0.5), 7);  // drop 1 each end: the median remains
  EXPECT_DOUBLE_EQ(trimmedMean({1, 3}, 0.5), 2);       // dropping 1 each end would leave none
  EXPECT_DOUBLE_EQ(trimmedMean({4}, 0.9), 4);
}

TEST(Summary, ToJsonHasTheContractKeys) {
  const nlohmann::json j = toJson(summarize({1, 2, 3}));
  EXPECT_EQ(j.size(), 7u);
  EXPECT_EQ(j.at("count"), 3);
  EXPECT_EQ(j.at("min"), 1.0);
  EXPECT_EQ(j.at("p50"), 2.0);
  EXPECT_EQ(j.at("p90"), 3.0);
  EXPECT_EQ(j.at("p99"), 3.0);
  EXPECT_EQ(j.at("max"), 3.0);
  EXPECT_EQ(j.at("mean"), 2.0);
}

}  // namespace
}  // namespace kindling::lab
