// Lambda platform log records in their exact text form (lambda-interfaces.md §3.3, §3.5).
// START/END/REPORT lines go into a function's log stream around every invoke; the REPORT line is
// what users grep for duration and memory, so the byte layout (TABs, 2 decimals, trailing TAB)
// matches AWS. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kindling::observe {

// "START RequestId: <id> Version: <version>\n". Thread-safe (pure).
std::string formatStartLine(std::string_view request_id, std::string_view version);

// "END RequestId: <id>\n". Thread-safe (pure).
std::string formatEndLine(std::string_view request_id);

struct ReportLine {
  std::string_view request_id;
  double duration_ms = 0;  // handler time, init excluded
  int memory_size_mb = 0;  // configured memory
  int max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;  // only on the first invoke of an environment
  // SnapStart: the first invoke of a restored environment reports these instead of Init
  // Duration. Billed Duration then covers the invoke only; the restore is billed on its own
  // (Billed Restore Duration = ceil(billed_restore_ms)), as on AWS (snapstart-monitoring.html).
  std::optional<double> restore_duration_ms;
  double billed_restore_ms = 0;
};

// "REPORT RequestId: <id>\tDuration: 12.96 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
// "Max Memory Used: 48 MB\tInit Duration: 117.86 ms\t\n" (Init Duration only when present);
// with restore_duration_ms: "...Max Memory Used: 48 MB\tRestore Duration: 190.12 ms\t"
// "Billed Restore Duration: 191 ms\t\n". Thread-safe (pure).
std::string formatReportLine(const ReportLine& r);

// The numbers of a REPORT line as read back from a log (kindling's own or AWS's).
struct ParsedReport {
  double duration_ms = 0;
  double billed_duration_ms = 0;
  int memory_size_mb = 0;
  int max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;     // a cold start
  std::optional<double> restore_duration_ms;  // a SnapStart restore
};

// Parses "REPORT RequestId: ...\tDuration: 1.23 ms\tBilled Duration: 2 ms\t..." (fields in any
// order, unknown fields ignored). nullopt unless the line starts with "REPORT " and carries both
// Duration and Billed Duration. Thread-safe (pure).
std::optional<ParsedReport> parseReportLine(std::string_view line);

// Billed duration in whole ms: ceil(duration [+ init duration]). Negative/NaN inputs count as 0.
// Thread-safe (pure).
int64_t billedDurationMs(double duration_ms, std::optional<double> init_duration_ms);

// "<ISO-8601 ms Z> <id> Task timed out after <timeout_s>.00 seconds\n". Thread-safe (pure).
std::string formatTimeoutLine(int64_t epoch_ms, std::string_view request_id, int timeout_s);

// "YYYY/MM/DD/[<version>]<32 random hex>" with the UTC date of epoch_ms. Thread-safe.
std::string makeLogStreamName(int64_t epoch_ms, std::string_view version);

}  // namespace kindling::observe
