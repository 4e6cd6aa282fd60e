#include "observe/metrics.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace kindling::observe {

namespace {

// Bucket bounds as Prometheus "le" label values, written once so rendering does no float
// formatting and the text is stable.
constexpr std::array<std::string_view, Histogram::kBucketCount> kBoundLabels = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",     "1",      "2.5",   "5",      "10",    "30",   "60",    "300",  "900"};

constexpr std::array<std::string_view, static_cast<size_t>(EnvStateLabel::kCount)> kStateNames = {
    "starting", "initializing", "idle", "busy", "dead"};

constexpr double kNanosPerSecond = 1e9;
// Values beyond this are clamped before the conversion to integer nanoseconds (≈ 292 years).
constexpr double kMaxObservableSeconds = 9.2e9;

using Out = std::back_insert_iterator<std::string>;
using Entry = std::pair<std::string, std::shared_ptr<FunctionMetrics>>;

void header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  fmt::format_to(Out(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename Getter>
void scalarFamily(std::string& out, const std::vector<Entry>& fns, std::string_view name,
                  std::string_view type, std::string_view help, Getter get) {
  header(out, name, type, help);
  for (const auto& [fn, m] : fns) {
    fmt::format_to(Out(out), "{}{{function=\"{}\"}} {}\n", name, fn, get(*m));
  }
}

void histogramFamily(std::string& out, const std::vector<Entry>& fns, std::string_view name,
                     std::string_view help, Histogram FunctionMetrics::*member) {
  header(out, name, "histogram", help);
  for (const auto& [fn, m] : fns) {
    const Histogram::Snapshot s = ((*m).*member).snapshot();
    for (size_t i = 0; i < Histogram::kBucketCount; ++i) {
      fmt::format_to(Out(out), "{}_bucket{{function=\"{}\",le=\"{}\"}} {}\n", name, fn,
                     kBoundLabels[i], s.cumulative[i]);
    }
    fmt::format_to(Out(out), "{}_bucket{{function=\"{}\",le=\"+Inf\"}} {}\n", name, fn,
                   s.cumulative.back());
    fmt::format_to(Out(out), "{}_sum{{function=\"{}\"}} {}\n", name, fn, s.sum_seconds);
    fmt::format_to(Out(out), "{}_count{{function=\"{}\"}} {}\n", name, fn, s.count);
  }
}

}  // namespace

std::string_view envStateLabelName(EnvStateLabel state) {
  const auto i = static_cast<size_t>(state);
  return i < kStateNames.size() ? kStateNames[i] : std::string_view("unknown");
}

void Histogram::observe(double seconds) {
  if (std::isnan(seconds)) return;
  if (seconds < 0) seconds = 0;
  // First bound >= value: Prometheus buckets are "less than or equal".
  const size_t idx = static_cast<size_t>(
      std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  counts_[idx].fetch_add(1, std::memory_order_relaxed);
  const double ns = std::min(seconds, kMaxObservableSeconds) * kNanosPerSecond;
  sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(ns)), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / kNanosPerSecond;
  return s;
}

void FunctionMetrics::addError(std::string_view error_type) {
  std::lock_guard lock(errors_mu_);
  auto it = errors_.find(error_type);
  if (it == errors_.end()) it = errors_.emplace(std::string(error_type), 0).first;
  ++it->second;
}

std::vector<std::pair<std::string, uint64_t>> FunctionMetrics::errorCounts() const {
  std::lock_guard lock(errors_mu_);
  return {errors_.begin(), errors_.end()};
}

std::shared_ptr<FunctionMetrics> MetricsRegistry::function(std::string_view name) {
  {
    std::shared_lock lock(mu_);
    if (auto it = functions_.find(name); it != functions_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  auto it = functions_.find(name);
  if (it == functions_.end()) {
    it = functions_.emplace(std::string(name), std::make_shared<FunctionMetrics>()).first;
  }
  return it->second;
}

void MetricsRegistry::removeFunction(std::string_view name) {
  std::unique_lock lock(mu_);
  if (auto it = functions_.find(name); it != functions_.end()) functions_.erase(it);
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::renderPrometheus() const {
  // Copy the (name, metrics) list under the lock, escaping names once; render without it.
  std::vector<Entry> fns;
  {
    std::shared_lock lock(mu_);
    fns.reserve(functions_.size());
    for (const auto& [name, m] : functions_) fns.emplace_back(escapeLabelValue(name), m);
  }
  std::string out;
  out.reserve(1024 + fns.size() * 6144);

  scalarFamily(out, fns, "kindling_invocations_total", "counter",
               "Invocations started, per function.",
               [](const FunctionMetrics& m) {
                 return m.invocations.load(std::memory_order_relaxed);
               });

  header(out, "kindling_invocation_errors_total", "counter",
         "Invocations that ended in a function error, per function and error type.");
  for (const auto& [fn, m] : fns) {
    for (const auto& [type, count] : m->errorCounts()) {
      fmt::format_to(Out(out),
                     "kindling_invocation_errors_total{{function=\"{}\",error_type=\"{}\"}} {}\n",
                     fn, escapeLabelValue(type), count);
    }
  }

  scalarFamily(out, fns, "kindling_throttles_total", "counter",
               "Invocations rejected with TooManyRequestsException, per function.",
               [](const FunctionMetrics& m) {
                 return m.throttles.load(std::memory_order_relaxed);
               });
  scalarFamily(out, fns, "kindling_cold_starts_total", "counter",
               "Invocations that had to start a new execution environment, per function.",
               [](const FunctionMetrics& m) {
                 return m.cold_starts.load(std::memory_order_relaxed);
               });
  histogramFamily(out, fns, "kindling_invoke_duration_seconds",
                  "Invoke phase duration (handler time, init excluded), per function.",
                  &FunctionMetrics::duration);
  histogramFamily(out, fns, "kindling_init_duration_seconds",
                  "Init phase duration of new execution environments, per function.",
                  &FunctionMetrics::init_duration);
  scalarFamily(out, fns, "kindling_concurrent_executions", "gauge",
               "Invocations currently running, per function.", [](const FunctionMetrics& m) {
                 return m.concurrent_executions.load(std::memory_order_relaxed);
               });

  header(out, "kindling_environments", "gauge", "Execution environments by state, per function.");
  for (const auto& [fn, m] : fns) {
    for (size_t i = 0; i < kStateNames.size(); ++i) {
      fmt::format_to(Out(out), "kindling_environments{{function=\"{}\",state=\"{}\"}} {}\n", fn,
                     kStateNames[i], m->environments[i].load(std::memory_order_relaxed));
    }
  }
  return out;
}

}  // namespace kindling::observe
