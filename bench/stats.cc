#include "bench/stats.h"

#include <algorithm>

#include "lab/stats.h"

namespace kindling::bench {

// The percentiles are the lab's (src/lab/stats.h: nearest rank, unit-tested); the benchmarks
// only add p999 and sort in place (their sample vectors are large and not needed afterwards).
double percentileSorted(const std::vector<double>& sorted, double q) {
  return lab::percentileSorted(sorted, q);
}

Summary summarize(std::vector<double>& samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const lab::Summary l = lab::summarize(samples);
  s.count = l.count;
  s.min = l.min;
  s.p50 = l.p50;
  s.p90 = l.p90;
  s.p99 = l.p99;
  s.p999 = lab::percentileSorted(samples, 0.999);
  s.max = l.max;
  s.mean = l.mean;
  return s;
}

}  // namespace kindling::bench
