// Latency statistics for the benchmark tables: nearest-rank percentiles over raw samples (no
// histogram bucketing, so p99 of 20k samples is an actual observed value).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kindling::bench {

struct Summary {
  size_t count = 0;
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;  // 99.9th percentile: the largest sample when count < 1,000
  double max = 0;
  double mean = 0;
};

// Summarises `samples` (any unit; the summary keeps it). Sorts the vector in place. An empty
// input gives an all-zero summary. Thread-safe for distinct vectors.
Summary summarize(std::vector<double>& samples);

// Nearest-rank percentile (q in [0, 1]) of an ascending-sorted, non-empty vector. Pure.
double percentileSorted(const std::vector<double>& sorted, double q);

}  // namespace kindling::bench
