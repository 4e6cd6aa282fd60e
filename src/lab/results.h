// The bench results model: every invocation of a runtime x memory x workload matrix, the per-cell
// statistics and the per-workload decisions derived from it, and its three renderings:
// results.json and results.csv (formats fixed by the issue-6 contract, /work/notes/i6-schema.md,
// which `kindling report` and the tests read) and the terminal table `kindling bench` prints.
// Derived data (stats, decisions) is always recomputed from the samples, never trusted from input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "lab/compare.h"
#include "lab/pricing.h"
#include "lab/stats.h"

namespace kindling::lab {

// One invocation as the REPORT line and the client saw it.
struct Sample {
  bool cold = false;
  std::optional<double> init_ms;  // Init Duration; cold samples only
  double duration_ms = 0;
  double billed_ms = 0;
  double max_memory_mb = 0;
  double client_ms = 0;              // end-to-end latency measured by the client
  std::optional<std::string> error;  // function/engine error type; nullopt when the call succeeded
};

struct Cell {
  std::string runtime;     // label: a Lambda runtime id, or go/rust/cpp
  std::string runtime_id;  // the Runtime the function was created with
  std::string workload;    // hello | cpu | json | heavy-init
  int memory_mb = 0;
  std::vector<Sample> samples;  // cold ones first, in invocation order
  std::vector<std::string> notes;
};

struct CellStats {
  Summary cold_init_ms, cold_client_ms, warm_duration_ms, warm_client_ms, warm_billed_ms;
  double max_memory_mb = 0;         // max over ok samples, 0 when none
  double cost_per_million_usd = 0;  // mean over ok warm samples of cost x 1e6, 0 when none
  size_t errors = 0;                // samples with an error
};

// The contract's "stats" of a cell, over ok samples only. Pure; thread-safe.
CellStats cellStats(const Cell& cell, const Pricing& pricing);
// The "stats" object of results.json. Pure; thread-safe.
nlohmann::json toJson(const CellStats& stats);

struct Decision {
  std::string workload, criterion, runtime;
  int memory_mb = 0;
  double value = 0;
  std::string unit;
};

// Criterion names, as written in results.json.
inline constexpr const char* kFastestColdStart = "fastest cold start";
inline constexpr const char* kFastestWarm = "fastest warm";
inline constexpr const char* kCheapest = "cheapest per 1M invocations";
inline constexpr const char* kLowestMemory = "lowest memory";

// Per workload (first-seen order), the 4 criteria in the order above: the cell with the minimum
// cold_init_ms.p50 / warm_duration_ms.p50 / cost_per_million_usd / max_memory_mb. Cells without
// data for a criterion are skipped (and a criterion without any cell is left out); ties go to the
// smaller memory, then the smaller runtime name. Pure; thread-safe.
std::vector<Decision> decide(const std::vector<Cell>& cells, const Pricing& pricing);

struct BenchMeta {
  std::string generated_at, kindling_version, host, kernel, cpu_model, endpoint;
  int cpus = 0, cold_per_cell = 0, warm_per_cell = 0;
  std::vector<std::string> runtimes, workloads;
  std::vector<int> memory_mb;
};

struct BenchResults {
  BenchMeta meta;
  Pricing pricing;
  std::vector<Cell> cells;  // runtime x memory x workload, in matrix order
  std::optional<AwsReference> compare;
};

// One sample as results.json / tune.json write it ({"kind","init_ms",...,"error"}). Pure.
nlohmann::json toJson(const Sample& sample);
// Inverse of toJson(Sample); `path` names the sample in errors. Pure; thread-safe.
Result<Sample> sampleFromJson(const nlohmann::json& value, const std::string& path);

// The whole results.json document (schema "kindling.bench/1"); stats and decisions are computed
// here and "compare" keeps only figures whose runtime is in meta.runtimes. Pure; thread-safe.
nlohmann::json toJson(const BenchResults& results);
// Inverse of toJson for `kindling report`: checks the schema and the shape of every field and
// says which one is wrong (InvalidArgument); "stats" and "decisions" are not read (they are
// derived). Never throws. Pure; thread-safe.
Result<BenchResults> benchResultsFromJson(const nlohmann::json& document);

// results.csv: the header
// runtime,runtime_id,workload,memory_mb,kind,index,init_ms,duration_ms,billed_ms,max_memory_mb,client_ms,error
// then one row per sample in results.json order; RFC 4180 quoting, "\n" line ends. Pure.
std::string toCsv(const BenchResults& results);

// The terminal report: one row per cell (cold init p50/p90/p99 and range, warm duration p50/p99,
// client warm p50, max memory, $/1M, errors; "-" where there is no data), then the decisions,
// the cells' notes and the AWS reference figures matching the cells. Plain ASCII. Pure.
std::string renderTable(const BenchResults& results);

// What the host says about itself, for meta.
struct HostInfo {
  std::string generated_at;  // now, "2026-11-26T20:01:02Z"
  std::string host, kernel, cpu_model;
  int cpus = 0;
};
// Reads hostname, uname release, online CPUs, /proc/cpuinfo's first "model name" (empty when the
// file has none) and the UTC time. Thread-safe.
HostInfo readHostInfo();
// Sets meta's generated_at, host, kernel, cpus and cpu_model from readHostInfo(). Thread-safe.
void fillHostInfo(BenchMeta& meta);
// "YYYY-MM-DDTHH:MM:SSZ" for a Unix time in seconds. Pure; thread-safe.
std::string isoUtcSeconds(int64_t epoch_seconds);

}  // namespace kindling::lab
