#include "observe/report.h"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "common/strings.h"

namespace kindling::observe {

namespace {
// Durations are measured in nanoseconds and converted to double ms, and init + invoke are added
// in floating point; anything within 1 ns above a whole millisecond is rounding noise, not a
// started millisecond (12.0 ms must bill 12, not 13).
constexpr double kBillingEpsilonMs = 1e-6;

double nonNegative(double v) { return (std::isnan(v) || v < 0) ? 0.0 : v; }
}  // namespace

std::string formatStartLine(std::string_view request_id, std::string_view version) {
  return fmt::format("START RequestId: {} Version: {}\n", request_id, version);
}

std::string formatEndLine(std::string_view request_id) {
  return fmt::format("END RequestId: {}\n", request_id);
}

int64_t billedDurationMs(double duration_ms, std::optional<double> init_duration_ms) {
  // Billing granularity is 1 ms, rounded up (lambda-interfaces.md §3.5; RIE printEndReports uses
  // math.Ceil). The init phase is billed too: since 2025-08-01 AWS bills INIT for on-demand
  // ZIP/managed-runtime functions as it already did for custom runtimes, container images and
  // provisioned concurrency ("AWS Lambda standardizes billing for INIT Phase", AWS Compute Blog,
  // https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/;
  // example: Init 1293.83 ms + Duration 1049.63 ms -> Billed 2344 ms, bitesizedserverless.com).
  double total = nonNegative(duration_ms);
  if (init_duration_ms) total += nonNegative(*init_duration_ms);
  return static_cast<int64_t>(std::ceil(total - kBillingEpsilonMs));
}

std::string formatReportLine(const ReportLine& r) {
  const int64_t billed = billedDurationMs(r.duration_ms, r.init_duration_ms);
  std::string out;
  out.reserve(192);
  fmt::format_to(std::back_inserter(out),
                 "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\t"
                 "Memory Size: {} MB\tMax Memory Used: {} MB\t",
                 r.request_id, nonNegative(r.duration_ms), billed, r.memory_size_mb,
                 r.max_memory_used_mb);
  if (r.init_duration_ms) {
    fmt::format_to(std::back_inserter(out), "Init Duration: {:.2f} ms\t",
                   nonNegative(*r.init_duration_ms));
  }
  out.push_back('\n');
  return out;
}

std::string formatTimeoutLine(int64_t epoch_ms, std::string_view request_id, int timeout_s) {
  // The configured timeout with 2 decimals, like RIE's "Task timed out after %d.00 seconds".
  return fmt::format("{} {} Task timed out after {}.00 seconds\n", isoTimestampZ(epoch_ms),
                     request_id, timeout_s);
}

std::string makeLogStreamName(int64_t epoch_ms, std::string_view version) {
  // Floor division so a (theoretical) pre-1970 timestamp still maps to its own day.
  int64_t secs = epoch_ms / 1000;
  if (epoch_ms % 1000 < 0) --secs;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}/{:02d}/{:02d}/[{}]{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     version, randomHex32());
}

}  // namespace kindling::observe
