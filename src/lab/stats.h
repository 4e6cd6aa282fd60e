// Latency statistics for bench and tune: nearest-rank percentiles over the raw samples (no
// histogram buckets, so every percentile is a value that was actually observed) and the trimmed
// mean AWS Lambda Power Tuning uses to average invocations.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace kindling::lab {

struct Summary {
  size_t count = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Count, min, nearest-rank p50/p90/p99, max and arithmetic mean of `samples` (any unit; outliers
// are kept). Empty input gives an all-zero summary. Pure; thread-safe.
Summary summarize(std::vector<double> samples);

// Nearest-rank percentile of an ascending-sorted vector: the value at rank ceil(q * n) (1-based,
// at least 1). q is clamped to [0, 1]; an empty vector gives 0. Pure; thread-safe.
double percentileSorted(const std::vector<double>& sorted, double q);

// Power Tuning's average: sort, drop floor(n * discard_fraction) values from each end, mean of the
// rest. The drop count is capped so that at least one value remains; empty input gives 0. Pure;
// thread-safe.
double trimmedMean(std::vector<double> samples, double discard_fraction);

// {"count","min","p50","p90","p99","max","mean"}. Pure; thread-safe.
nlohmann::json toJson(const Summary& summary);

}  // namespace kindling::lab
