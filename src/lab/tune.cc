#include "lab/tune.h"

#include <cmath>
#include <exception>

#include <fmt/format.h>

#include "lab/json_read.h"
#include "lab/text_table.h"

namespace kindling::lab {

namespace {

using nlohmann::json;

constexpr const char* kTuneSchema = "kindling.tune/1";

json toJson(const TuneMeta& m) {
  return json{{"generated_at", m.generated_at},
              {"kindling_version", m.kindling_version},
              {"host", m.host},
              {"cpus", m.cpus},
              {"endpoint", m.endpoint},
              {"function", m.function},
              {"payload", m.payload},
              {"invocations", m.invocations},
              {"discard_top_bottom", m.discard_top_bottom},
              {"original_memory_mb", m.original_memory_mb}};
}

Result<TuneMeta> tuneMetaFromJson(const json& value) {
  JsonReader in(value, "meta");
  TuneMeta m;
  m.generated_at = in.string("generated_at");
  m.kindling_version = in.string("kindling_version");
  m.host = in.string("host");
  m.cpus = in.integer("cpus");
  m.endpoint = in.string("endpoint");
  m.function = in.string("function");
  m.payload = in.string("payload");
  m.invocations = in.integer("invocations");
  m.discard_top_bottom = in.number("discard_top_bottom");
  m.original_memory_mb = in.integer("original_memory_mb");
  if (!in.ok()) return tl::unexpected(in.error());
  return m;
}

json toJson(const TunePoint& p) {
  json samples = json::array();
  for (const Sample& s : p.samples) samples.push_back(toJson(s));
  return json{{"memory_mb", p.memory_mb},
              {"samples", std::move(samples)},
              {"average_duration_ms", p.average_duration_ms},
              {"average_billed_ms", p.average_billed_ms},
              {"average_cost_usd", p.average_cost_usd},
              {"errors", p.errors}};
}

Result<TunePoint> pointFromJson(const json& value, std::string path) {
  JsonReader in(value, std::move(path));
  TunePoint p;
  p.memory_mb = in.integer("memory_mb");
  const json* samples = in.array("samples");
  p.average_duration_ms = in.number("average_duration_ms");
  p.average_billed_ms = in.number("average_billed_ms");
  p.average_cost_usd = in.number("average_cost_usd");
  const int errors = in.integer("errors");
  if (!in.ok()) return tl::unexpected(in.error());
  if (p.memory_mb <= 0) {
    return tl::unexpected(documentError(in.pathOf("memory_mb") + ": must be positive"));
  }
  if (errors < 0) return tl::unexpected(documentError(in.pathOf("errors") + ": must not be negative"));
  p.errors = static_cast<size_t>(errors);
  p.samples.reserve(samples->size());
  for (size_t i = 0; i < samples->size(); ++i) {
    auto sample = sampleFromJson((*samples)[i], in.pathOf("samples", i));
    if (!sample) return tl::unexpected(std::move(sample.error()));
    p.samples.push_back(std::move(*sample));
  }
  return p;
}

// a before b on (first key, second key); exact comparisons: equal inputs give equal keys.
bool lessPair(double a1, double a2, double b1, double b2) { return a1 < b1 || (a1 == b1 && a2 < b2); }

std::string strategyReason(const TuneResult& r, const TunePoint& p) {
  switch (r.strategy) {
    case Strategy::Cost:
      return fmt::format("strategy cost: the lowest average cost per invocation ({} USD), ties to the faster",
                         formatFixed(p.average_cost_usd, 10));
    case Strategy::Speed:
      return fmt::format("strategy speed: the lowest average duration ({} ms), ties to the cheaper",
                         formatMs(p.average_duration_ms));
    case Strategy::Balanced:
      return fmt::format(
          "strategy balanced, weight {0}: the lowest {0} x cost/max_cost + {1} x "
          "duration/max_duration",
          formatFixed(r.weight, 2), formatFixed(1 - r.weight, 2));
  }
  return {};
}

}  // namespace

Result<Strategy> parseStrategy(std::string_view name) {
  if (name == "cost") return Strategy::Cost;
  if (name == "speed") return Strategy::Speed;
  if (name == "balanced") return Strategy::Balanced;
  return makeError(ErrorCode::InvalidArgument,
                   "unknown strategy '" + std::string(name) + "' (expected cost, speed or balanced)");
}

std::string_view strategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::Cost: return "cost";
    case Strategy::Speed: return "speed";
    case Strategy::Balanced: return "balanced";
  }
  return "cost";
}

bool isEligible(const TunePoint& point) {
  for (const Sample& s : point.samples) {
    if (!s.error) return true;
  }
  return false;
}

void computeTunePoint(TunePoint& point, const Pricing& pricing, double discard_top_bottom) {
  std::vector<double> durations, billed;
  durations.reserve(point.samples.size());
  billed.reserve(point.samples.size());
  point.errors = 0;
  for (const Sample& s : point.samples) {
    if (s.error) {
      ++point.errors;
      continue;
    }
    durations.push_back(s.duration_ms);
    billed.push_back(s.billed_ms);
  }
  if (durations.empty()) {
    point.average_duration_ms = point.average_billed_ms = point.average_cost_usd = 0;
    return;
  }
  point.average_duration_ms = trimmedMean(std::move(durations), discard_top_bottom);
  point.average_billed_ms = trimmedMean(std::move(billed), discard_top_bottom);
  point.average_cost_usd = invocationCostUsd(pricing, point.average_billed_ms, point.memory_mb);
}

Result<size_t> chooseTunePoint(const std::vector<TunePoint>& points, Strategy strategy, double weight) {
  if (strategy == Strategy::Balanced && !(weight >= 0 && weight <= 1)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("balanced weight must be between 0 and 1, got {}", weight));
  }
  double max_cost = 0, max_duration = 0;
  for (const TunePoint& p : points) {
    if (!isEligible(p)) continue;
    max_cost = std::max(max_cost, p.average_cost_usd);
    max_duration = std::max(max_duration, p.average_duration_ms);
  }
  auto score = [&](const TunePoint& p) {
    const double cost = max_cost > 0 ? p.average_cost_usd / max_cost : 0;
    const double duration = max_duration > 0 ? p.average_duration_ms / max_duration : 0;
    return weight * cost + (1 - weight) * duration;
  };
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const TunePoint& p = points[i];
    if (!isEligible(p)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const TunePoint& b = points[*best];
    bool better = false;
    switch (strategy) {
      case Strategy::Cost:
        better = lessPair(p.average_cost_usd, p.average_duration_ms, b.average_cost_usd, b.average_duration_ms);
        break;
      case Strategy::Speed:
        better = lessPair(p.average_duration_ms, p.average_cost_usd, b.average_duration_ms, b.average_cost_usd);
        break;
      case Strategy::Balanced: {
        const double sp = score(p), sb = score(b);
        better = sp < sb || (sp == sb && lessPair(p.average_cost_usd, p.average_duration_ms,
                                                  b.average_cost_usd, b.average_duration_ms));
        break;
      }
    }
    if (better) best = i;
  }
  if (!best) {
    return makeError(ErrorCode::NotFound,
                     points.empty() ? std::string("no memory sizes were tuned")
                                    : "no memory size had a successful invocation");
  }
  return *best;
}

void fillHostInfo(TuneMeta& meta) {
  HostInfo info = readHostInfo();
  meta.generated_at = std::move(info.generated_at);
  meta.host = std::move(info.host);
  meta.cpus = info.cpus;
}

json toJson(const TuneResult& r) {
  json points = json::array();
  for (const TunePoint& p : r.points) points.push_back(toJson(p));
  json recommendation = nullptr;
  if (r.chosen < r.points.size()) {
    const TunePoint& p = r.points[r.chosen];
    recommendation = json{{"memory_mb", p.memory_mb},
                          {"average_duration_ms", p.average_duration_ms},
                          {"average_cost_usd", p.average_cost_usd}};
  }
  return json{{"schema", kTuneSchema},
              {"meta", toJson(r.meta)},
              {"pricing", toJson(r.pricing)},
              {"strategy", strategyName(r.strategy)},
              {"weight", r.weight},
              {"points", std::move(points)},
              {"recommendation", std::move(recommendation)},
              {"applied", r.applied}};
}

Result<TuneResult> tuneResultFromJson(const json& document) {
  try {
    JsonReader in(document, "");
    const std::string schema = in.string("schema");
    const json* meta = in.object("meta");
    const json* pricing = in.object("pricing");
    const std::string strategy = in.string("strategy");
    TuneResult r;
    r.weight = in.number("weight");
    const json* points = in.array("points");
    const json* recommendation = in.optionalMember("recommendation");
    r.applied = in.boolean("applied");
    if (!in.ok()) return tl::unexpected(in.error());
    if (schema != kTuneSchema) {
      return tl::unexpected(
          documentError("schema: expected \"" + std::string(kTuneSchema) + "\", got \"" + schema + "\""));
    }
    auto parsed_strategy = parseStrategy(strategy);
    if (!parsed_strategy) return tl::unexpected(documentError("strategy: " + parsed_strategy.error().context));
    r.strategy = *parsed_strategy;
    auto parsed_meta = tuneMetaFromJson(*meta);
    if (!parsed_meta) return tl::unexpected(std::move(parsed_meta.error()));
    r.meta = std::move(*parsed_meta);
    auto parsed_pricing = pricingFromJson(*pricing, "pricing");
    if (!parsed_pricing) return tl::unexpected(std::move(parsed_pricing.error()));
    r.pricing = *parsed_pricing;
    r.points.reserve(points->size());
    for (size_t i = 0; i < points->size(); ++i) {
      auto point = pointFromJson((*points)[i], in.pathOf("points", i));
      if (!point) return tl::unexpected(std::move(point.error()));
      r.points.push_back(std::move(*point));
    }
    r.chosen = r.points.size();
    if (recommendation) {
      JsonReader rec(*recommendation, "recommendation");
      const int memory = rec.integer("memory_mb");
      if (!rec.ok()) return tl::unexpected(rec.error());
      for (size_t i = 0; i < r.points.size(); ++i) {
        if (r.points[i].memory_mb == memory) {
          r.chosen = i;
          break;
        }
      }
      if (r.chosen == r.points.size()) {
        return tl::unexpected(documentError(
            fmt::format("recommendation.memory_mb: no point has {} MB", memory)));
      }
    }
    return r;
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument, std::string("tune.json: ") + e.what());
  }
}

std::string renderTuneTable(const TuneResult& r) {
  const TuneMeta& m = r.meta;
  std::string out = fmt::format(
      "kindling tune {}: {} invocations per memory size, {}% dropped at each end, {} prices\n\n",
      m.function.empty() ? "?" : m.function, m.invocations,
      formatAmount(m.discard_top_bottom * 100), architectureName(r.pricing.architecture));
  TextTable table({{"", TextTable::Align::Left},
                   {"memory MB", TextTable::Align::Right},
                   {"avg duration ms", TextTable::Align::Right},
                   {"avg billed ms", TextTable::Align::Right},
                   {"avg cost USD", TextTable::Align::Right},
                   {"USD per 1M", TextTable::Align::Right},
                   {"errors", TextTable::Align::Right}});
  for (size_t i = 0; i < r.points.size(); ++i) {
    const TunePoint& p = r.points[i];
    const bool ok = isEligible(p);
    table.addRow({i == r.chosen ? "*" : "", std::to_string(p.memory_mb),
                  ok ? formatMs(p.average_duration_ms) : "-", ok ? formatMs(p.average_billed_ms) : "-",
                  ok ? formatFixed(p.average_cost_usd, 10) : "-",
                  ok ? formatFixed(p.average_cost_usd * 1e6, 4) : "-",
                  fmt::format("{}/{}", p.errors, p.samples.size())});
  }
  if (table.empty()) {
    out += "no memory sizes\n";
  } else {
    out += table.render();
  }
  out += "\n";
  if (r.chosen >= r.points.size()) {
    out += "No recommendation: no memory size had a successful invocation.\n";
    return out;
  }
  const TunePoint& chosen = r.points[r.chosen];
  out += fmt::format("* Recommended: {} MB ({}).\n", chosen.memory_mb, strategyReason(r, chosen));
  if (r.applied) {
    out += fmt::format("Applied: {} now runs with {} MB (was {} MB).\n", m.function, chosen.memory_mb,
                       m.original_memory_mb);
  } else if (m.original_memory_mb > 0) {
    out += fmt::format("Not applied: {} keeps {} MB.\n", m.function, m.original_memory_mb);
  }
  return out;
}

}  // namespace kindling::lab
