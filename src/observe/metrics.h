// Engine metrics in the Prometheus text exposition format 0.0.4.
//
// Why this shape (Firecracker's metrics.rs habit): every value updated on the invoke path is a
// plain atomic in a per-function struct that callers keep a shared_ptr to, so an update is one
// relaxed atomic add with no lock, no lookup and no allocation. Only rare events (a new function,
// a new error type, a scrape) take a lock. The registry renders everything on demand.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindling::observe {

enum class EnvStateLabel { Starting, Initializing, Idle, Busy, Dead, kCount };

// Prometheus label value for a state: "starting", "initializing", "idle", "busy", "dead".
std::string_view envStateLabelName(EnvStateLabel state);

// A latency histogram with fixed buckets (seconds). observe() is lock-free and allocation-free.
class Histogram {
 public:
  static constexpr size_t kBucketCount = 20;  // finite buckets; +Inf is implicit
  static constexpr std::array<double, kBucketCount> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    300,  900};

  // Records one value in seconds (negative counts as 0, NaN is ignored). Thread-safe, lock-free.
  void observe(double seconds);

  struct Snapshot {
    std::array<uint64_t, kBucketCount + 1> cumulative{};  // le=kBounds[i]; last is +Inf
    uint64_t count = 0;                                   // == cumulative.back()
    double sum_seconds = 0;
  };
  // A point-in-time copy (each counter read atomically; not one global atomic snapshot while
  // writers run). Thread-safe.
  Snapshot snapshot() const;

 private:
  // Per-bucket (non-cumulative) counts; index kBucketCount is the overflow (> 900 s) bucket.
  std::array<std::atomic<uint64_t>, kBucketCount + 1> counts_{};
  // Sum in integer nanoseconds: an exact, single fetch_add instead of a CAS loop on a double.
  std::atomic<uint64_t> sum_ns_{0};
};

struct FunctionMetrics {  // all members updated lock-free from any thread
  std::atomic<uint64_t> invocations{0};
  std::atomic<uint64_t> throttles{0};
  std::atomic<uint64_t> cold_starts{0};
  std::atomic<int64_t> concurrent_executions{0};
  std::array<std::atomic<int64_t>, static_cast<size_t>(EnvStateLabel::kCount)> environments{};
  Histogram duration;       // invoke duration, seconds
  Histogram init_duration;  // init phase duration, seconds

  // The gauge for environments in `state`. Thread-safe.
  std::atomic<int64_t>& environmentsIn(EnvStateLabel state) {
    return environments[static_cast<size_t>(state)];
  }
  // Counts one invocation error of type error_type ("Unhandled", "Runtime.ExitError", ...).
  // Thread-safe (takes a mutex: errors are rare).
  void addError(std::string_view error_type);
  // Error counts by type, sorted by type. Thread-safe.
  std::vector<std::pair<std::string, uint64_t>> errorCounts() const;

 private:
  mutable std::mutex errors_mu_;
  std::map<std::string, uint64_t, std::less<>> errors_;  // guarded by errors_mu_
};

class MetricsRegistry {  // thread-safe
 public:
  // The metrics of a function, created on first use. Callers keep the shared_ptr (lifetime is
  // shared: a removed function's in-flight invokes may still update it harmlessly). Thread-safe;
  // a shared lock on the lookup path, exclusive only on creation.
  std::shared_ptr<FunctionMetrics> function(std::string_view name);
  // Drops a function's series from the output. Thread-safe.
  void removeFunction(std::string_view name);
  // Prometheus text format 0.0.4 (Content-Type "text/plain; version=0.0.4"), functions sorted by
  // name. Thread-safe; holds the lock only to copy the function list.
  std::string renderPrometheus() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<FunctionMetrics>, std::less<>> functions_;  // by mu_
};

// Escapes a Prometheus label value: backslash, double quote and newline. Thread-safe (pure).
std::string escapeLabelValue(std::string_view value);

}  // namespace kindling::observe
