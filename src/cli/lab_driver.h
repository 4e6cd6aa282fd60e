// What `bench` and `tune` share: one measured invocation read back from its REPORT line, the
// configuration calls that force new environments, prices from the command line, the progress
// bar, and writing the output files.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "cli/lab_commands.h"
#include "common/result.h"
#include "lab/pricing.h"
#include "lab/results.h"

// The project version (CMake's PROJECT_VERSION, set for kd_cli), recorded in results.
#ifndef KINDLING_VERSION
#define KINDLING_VERSION "0"
#endif

namespace kindling::cli {

// Invokes `name` synchronously with the log tail and turns the answer into a Sample: the REPORT
// line's Duration, Billed Duration, Max Memory Used and Init Duration, plus the client's round
// trip. `cold` is what the REPORT says (an Init Duration is a new environment), never what the
// caller hoped; `expect_cold` is used only when there is no REPORT (a failed request). Failures
// (transport, API errors, function errors, no REPORT) are recorded in Sample::error, not
// returned. Not thread-safe (shares the client).
lab::Sample measureInvoke(HttpClient& client, std::string_view name, const std::string& payload,
                          bool expect_cold, std::string_view qualifier = {});

// PublishVersion; returns the new version's number. Not thread-safe.
Result<std::string> publishVersion(HttpClient& client, std::string_view name);

// UpdateFunctionConfiguration with `body` (a JSON object of the fields to change). The daemon
// replaces the function's environments: the next invocation is a cold start. Not thread-safe.
Status updateConfiguration(HttpClient& client, std::string_view name, const nlohmann::json& body);

// GetFunctionConfiguration's JSON answer. Not thread-safe.
Result<nlohmann::json> getConfiguration(HttpClient& client, std::string_view name);

// The prices the options ask for. Pure.
Result<lab::Pricing> pricingFrom(const PriceOptions& opts);

// Writes `data` to `path` (created or truncated). Thread-safe for distinct paths.
Status writeTextFile(const std::filesystem::path& path, std::string_view data);

// "20261126T201502Z" (UTC now), for default output directory names. Thread-safe.
std::string compactUtcNow();

// A progress bar with an ETA on a terminal (redrawn in place), plain lines otherwise. Not
// thread-safe.
class Progress {
 public:
  Progress(std::ostream& err, int64_t total_units, bool is_tty);
  // Counts `units` more as done and redraws (at most every 100 ms on a terminal).
  void advance(int64_t units, std::string_view current);
  // Prints a finished line (a cell's summary) above the bar / as a line.
  void line(std::string_view text);
  // Clears the bar (end of run).
  void finish();

 private:
  std::string bar(std::string_view current) const;
  std::ostream& err_;
  int64_t total_;
  int64_t done_ = 0;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace kindling::cli
