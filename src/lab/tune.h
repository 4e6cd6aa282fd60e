// `kindling tune`: the local AWS Lambda Power Tuning. The same function is invoked N times at each
// memory size; each point's Duration and Billed Duration are averaged with Power Tuning's trimmed
// mean, priced, and one of its three strategies (cost, speed, balanced) picks the memory to
// recommend. Format of tune.json: the issue-6 contract (/work/notes/i6-schema.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "lab/pricing.h"
#include "lab/results.h"

namespace kindling::lab {

enum class Strategy { Cost, Speed, Balanced };

// "cost" | "speed" | "balanced"; anything else is an InvalidArgument error. Pure; thread-safe.
Result<Strategy> parseStrategy(std::string_view name);
// "cost" | "speed" | "balanced". Pure; thread-safe.
std::string_view strategyName(Strategy strategy);

struct TunePoint {
  int memory_mb = 0;
  std::vector<Sample> samples;
  double average_duration_ms = 0, average_billed_ms = 0, average_cost_usd = 0;
  size_t errors = 0;
};

// A point can be recommended when at least one of its samples succeeded. Pure.
bool isEligible(const TunePoint& point);

// Fills errors and the averages from the point's ok samples (cold and warm): trimmed means
// (`discard_top_bottom` of them dropped at each end) of Duration and Billed Duration, and the
// cost of the average billed duration at this memory plus the request price. A point without ok
// samples gets zero averages. Not thread-safe for the same point.
void computeTunePoint(TunePoint& point, const Pricing& pricing, double discard_top_bottom);

// The index of the recommended point among the eligible ones: cost = lowest average cost (ties:
// faster); speed = lowest average duration (ties: cheaper); balanced = lowest
// weight * cost / max_cost + (1 - weight) * duration / max_duration over eligible points (ties:
// cheaper, then faster). Remaining ties go to the earlier point. Errors: no eligible point
// (NotFound), weight outside [0, 1] (InvalidArgument). Pure; thread-safe.
Result<size_t> chooseTunePoint(const std::vector<TunePoint>& points, Strategy strategy, double weight);

struct TuneMeta {
  std::string generated_at, kindling_version, host, endpoint, function, payload;
  int cpus = 0, invocations = 0, original_memory_mb = 0;
  double discard_top_bottom = 0.2;
};

struct TuneResult {
  TuneMeta meta;
  Pricing pricing;
  Strategy strategy = Strategy::Cost;
  double weight = 0.5;
  std::vector<TunePoint> points;  // ascending memory
  size_t chosen = 0;              // index into points; points.size() = no recommendation
  bool applied = false;           // whether the recommendation was written to the function
};

// Sets meta's generated_at, host and cpus from readHostInfo(). Thread-safe.
void fillHostInfo(TuneMeta& meta);

// The tune.json document (schema "kindling.tune/1"); "recommendation" is points[chosen], or null
// when chosen is out of range. Pure; thread-safe.
nlohmann::json toJson(const TuneResult& result);
// Inverse of toJson: checks the schema and every field's shape (InvalidArgument naming the
// field); `chosen` is the point whose memory the recommendation names. Never throws. Pure.
Result<TuneResult> tuneResultFromJson(const nlohmann::json& document);

// The terminal report: memory, average duration, average billed duration, average cost per
// invocation and per 1M, errors; '*' marks the recommendation; a closing line says which and
// why (strategy, weight). Plain ASCII. Pure; thread-safe.
std::string renderTuneTable(const TuneResult& result);

}  // namespace kindling::lab
