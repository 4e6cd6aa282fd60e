#include "observe/report.h"

#include <charconv>
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
  // A restore is billed in its own field, never folded into Billed Duration.
  const int64_t billed = billedDurationMs(
      r.duration_ms, r.restore_duration_ms ? std::nullopt : r.init_duration_ms);
  std::string out;
  out.reserve(192);
  fmt::format_to(std::back_inserter(out),
                 "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\t"
                 "Memory Size: {} MB\tMax Memory Used: {} MB\t",
                 r.request_id, nonNegative(r.duration_ms), billed, r.memory_size_mb,
                 r.max_memory_used_mb);
  if (r.restore_duration_ms) {
    fmt::format_to(std::back_inserter(out),
                   "Restore Duration: {:.2f} ms\tBilled Restore Duration: {} ms\t",
                   nonNegative(*r.restore_duration_ms),
                   billedDurationMs(r.billed_restore_ms, std::nullopt));
  } else if (r.init_duration_ms) {
    fmt::format_to(std::back_inserter(out), "Init Duration: {:.2f} ms\t",
                   nonNegative(*r.init_duration_ms));
  }
  out.push_back('\n');
  return out;
}

namespace {

// "12.34 ms" / "128 MB" -> 12.34 / 128; nullopt unless a number followed by the unit.
std::optional<double> fieldNumber(std::string_view value, std::string_view unit) {
  double v = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (ec != std::errc() || ptr == value.data()) return std::nullopt;
  std::string_view rest(ptr, static_cast<size_t>(end - ptr));
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest != unit) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ParsedReport> parseReportLine(std::string_view line) {
  constexpr std::string_view kPrefix = "REPORT ";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  ParsedReport out;
  bool have_duration = false;
  bool have_billed = false;
  while (!line.empty()) {
    const size_t tab = line.find('\t');
    std::string_view field = line.substr(0, tab);
    line = tab == std::string_view::npos ? std::string_view{} : line.substr(tab + 1);
    while (!field.empty() && (field.back() == '\n' || field.back() == '\r')) field.remove_suffix(1);
    const size_t colon = field.find(": ");
    if (colon == std::string_view::npos) continue;
    const std::string_view key = field.substr(0, colon);
    const std::string_view value = field.substr(colon + 2);
    if (key == "Duration") {
      if (auto v = fieldNumber(value, "ms")) out.duration_ms = *v, have_duration = true;
    } else if (key == "Billed Duration") {
      if (auto v = fieldNumber(value, "ms")) out.billed_duration_ms = *v, have_billed = true;
    } else if (key == "Memory Size") {
      if (auto v = fieldNumber(value, "MB")) out.memory_size_mb = static_cast<int>(*v);
    } else if (key == "Max Memory Used") {
      if (auto v = fieldNumber(value, "MB")) out.max_memory_used_mb = static_cast<int>(*v);
    } else if (key == "Init Duration") {
      out.init_duration_ms = fieldNumber(value, "ms");
    } else if (key == "Restore Duration") {
      out.restore_duration_ms = fieldNumber(value, "ms");
    }
  }
  if (!have_duration || !have_billed) return std::nullopt;
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
