#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kindling::bench {

double percentileSorted(const std::vector<double>& sorted, double q) {
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary summarize(std::vector<double>& samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.p50 = percentileSorted(samples, 0.50);
  s.p90 = percentileSorted(samples, 0.90);
  s.p99 = percentileSorted(samples, 0.99);
  s.p999 = percentileSorted(samples, 0.999);
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  return s;
}

}  // namespace kindling::bench
