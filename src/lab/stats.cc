#include "lab/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kindling::lab {

namespace {

// q * n can land a hair above an integer (0.29 * 100 = 29.000000000000004); without the slack
// ceil() would move such a percentile one rank up.
constexpr double kRankSlack = 1e-9;

}  // namespace

double percentileSorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  if (!(q > 0)) return sorted.front();  // also catches NaN
  if (q >= 1) return sorted.back();
  const double rank = std::ceil(q * static_cast<double>(sorted.size()) - kRankSlack);
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.p50 = percentileSorted(samples, 0.50);
  s.p90 = percentileSorted(samples, 0.90);
  s.p99 = percentileSorted(samples, 0.99);
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  return s;
}

double trimmedMean(std::vector<double> samples, double discard_fraction) {
  const size_t n = samples.size();
  if (n == 0) return 0;
  size_t drop = 0;
  if (discard_fraction > 0) {
    // Same slack as above: 0.3 * 10 must drop 3, not 2 after rounding noise the other way.
    drop = static_cast<size_t>(std::floor(static_cast<double>(n) * discard_fraction + kRankSlack));
  }
  drop = std::min(drop, (n - 1) / 2);  // keep at least one value
  std::sort(samples.begin(), samples.end());
  const auto first = samples.begin() + static_cast<std::ptrdiff_t>(drop);
  const auto last = samples.end() - static_cast<std::ptrdiff_t>(drop);
  return std::accumulate(first, last, 0.0) / static_cast<double>(n - 2 * drop);
}

nlohmann::json toJson(const Summary& s) {
  return nlohmann::json{{"count", s.count}, {"min", s.min}, {"p50", s.p50}, {"p90", s.p90},
                        {"p99", s.p99},     {"max", s.max}, {"mean", s.mean}};
}

}  // namespace kindling::lab
