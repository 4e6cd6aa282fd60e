#include "report/chart_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "report/html_text.h"
#include "report/json_view.h"

namespace kindling::report {
namespace {

// Tableau-like categorical palette without its red, which is kept for AWS's figures.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                                    "#edc948", "#9c755f", "#ff9da7", "#86bcb6", "#8cd17d"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr const char* kAwsColor = "#d62728";
constexpr const char* kDashes[] = {"", "6 3", "2 3", "9 3 2 3"};
constexpr double kLogSpan = 30.0;

std::string strOr(const Json& j, std::string_view key, std::string_view fallback = "-") {
  auto s = stringAt(j, key);
  return std::string(s ? *s : fallback);
}

// Min over positive values and max, to decide log scales.
struct Span {
  double min_positive = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (v > 0 && v < min_positive) min_positive = v;
    if (v > max) max = v;
  }
  void add(const std::optional<double>& v) {
    if (v) add(*v);
  }
  bool log() const { return wantsLogScale(min_positive, max); }
};

// Appends `v` to `order` unless already present.
template <typename T>
void addUnique(std::vector<T>& order, const T& v) {
  if (std::find(order.begin(), order.end(), v) == order.end()) order.push_back(v);
}

// The matrix layout shared by the per-cell charts: runtime groups (meta order, then first
// appearance), workload slots inside them, memory sizes as series.
struct Matrix {
  std::vector<std::string> runtimes, workloads;
  std::vector<double> memories;  // ascending
  bool memory_unknown = false;   // some cell lacks memory_mb
  // (runtime, workload) -> slot index in `slots`
  std::map<std::pair<std::string, std::string>, size_t> slot_index;
  Json slots = Json::array();

  static Matrix build(const Json& results, bool aws_slots) {
    Matrix m;
    const Json& meta = objectAt(results, "meta");
    const Json& cells = arrayAt(results, "cells");
    for (const Json& r : arrayAt(meta, "runtimes"))
      if (r.is_string()) addUnique(m.runtimes, r.get<std::string>());
    for (const Json& w : arrayAt(meta, "workloads"))
      if (w.is_string()) addUnique(m.workloads, w.get<std::string>());
    for (const Json& mb : arrayAt(meta, "memory_mb"))
      if (auto v = asNumber(&mb)) addUnique(m.memories, *v);
    for (const Json& c : cells) {
      addUnique(m.runtimes, strOr(c, "runtime"));
      addUnique(m.workloads, strOr(c, "workload"));
      if (auto v = numberAt(c, "memory_mb")) addUnique(m.memories, *v);
      else m.memory_unknown = true;
    }
    std::vector<std::string> aws_runtimes;
    for (const Json& f : arrayAt(objectAt(results, "compare"), "figures")) {
      auto rt = stringAt(f, "runtime");
      if (!rt || !numberAt(f, "init_ms_mean")) continue;
      addUnique(m.runtimes, std::string(*rt));
      addUnique(aws_runtimes, std::string(*rt));
      if (auto v = numberAt(f, "memory_mb")) addUnique(m.memories, *v);
    }
    std::sort(m.memories.begin(), m.memories.end());
    // Slots: every (runtime, workload) that has a cell, in runtime then workload order.
    std::vector<std::pair<std::string, std::string>> present;
    for (const Json& c : cells) addUnique(present, {strOr(c, "runtime"), strOr(c, "workload")});
    const bool label_slots = m.workloads.size() > 1 || (aws_slots && !aws_runtimes.empty());
    for (const std::string& rt : m.runtimes) {
      for (const std::string& wl : m.workloads) {
        if (std::find(present.begin(), present.end(), std::pair{rt, wl}) == present.end())
          continue;
        m.slot_index[{rt, wl}] = m.slots.size();
        m.slots.push_back({{"g", rt}, {"l", label_slots ? wl : std::string()}});
      }
      if (aws_slots && std::find(aws_runtimes.begin(), aws_runtimes.end(), rt) !=
                           aws_runtimes.end()) {
        m.slot_index[{rt, std::string("\x01aws")}] = m.slots.size();
        m.slots.push_back({{"g", rt}, {"l", "AWS"}});
      }
    }
    return m;
  }

  size_t memoryIndex(const std::optional<double>& mb) const {
    if (!mb) return memories.size();  // the "unknown" series, last
    return static_cast<size_t>(std::find(memories.begin(), memories.end(), *mb) -
                               memories.begin());
  }

  // One series per memory size (plus "?" for cells without one).
  Json memorySeries() const {
    Json series = Json::array();
    for (size_t i = 0; i < memories.size(); ++i)
      series.push_back({{"id", formatMb(memories[i])},
                        {"label", formatMb(memories[i]) + " MB"},
                        {"color", kPalette[i % kPaletteSize]},
                        {"shape", "circle"}});
    if (memory_unknown)
      series.push_back({{"id", "?"}, {"label", "memory ?"}, {"color", "#777777"},
                        {"shape", "circle"}});
    return series;
  }

  size_t dodges() const { return memories.size() + (memory_unknown ? 1 : 0); }

  Json slotAxis(std::string_view label) const {
    return {{"type", "slots"}, {"label", label}, {"slots", slots},
            {"dodges", std::max<size_t>(1, dodges())}};
  }
};

std::string cellTitle(const Json& cell) {
  auto mb = numberAt(cell, "memory_mb");
  return fmt::format("{} · {} · {} MB", strOr(cell, "runtime"), strOr(cell, "workload"),
                     mb ? formatMb(*mb) : std::string("?"));
}

std::string statText(std::string_view what, const Stat& s, std::string_view unit) {
  auto f = [](const std::optional<double>& v) { return formatOr(v, formatMs); };
  return fmt::format("{} (n={}): p50 {} {u}, p90 {} {u}, p99 {} {u}, min {} – max {} {u}", what,
                     formatOr(s.count, formatPlain), f(s.p50), f(s.p90), f(s.p99), f(s.min),
                     f(s.max), fmt::arg("u", unit));
}

Json rangeOf(const Stat& s) {
  if (s.min && s.max) return Json::array({*s.min, *s.max});
  return nullptr;
}

Json ticksOf(std::initializer_list<std::optional<double>> values) {
  Json t = Json::array();
  for (const auto& v : values)
    if (v) t.push_back(*v);
  return t;
}

// Adds optional point members that are present.
void addDecorations(Json& point, Json range, Json ticks, Span& span) {
  if (range.is_array()) {
    span.add(range[0].get<double>());
    span.add(range[1].get<double>());
    point["r"] = std::move(range);
  }
  if (!ticks.empty()) {
    for (const Json& t : ticks) span.add(t.get<double>());
    point["t"] = std::move(ticks);
  }
}

Json yAxis(std::string_view label, std::string_view unit, const Span& span) {
  return {{"label", label}, {"unit", unit}, {"log", span.log()}};
}

Json chart(std::string_view name, std::string_view title, std::string_view caption) {
  return {{"name", name}, {"title", title}, {"caption", caption}, {"lines", false}};
}

Json coldStartChart(const Json& results) {
  const Matrix m = Matrix::build(results, /*aws_slots=*/true);
  Json c = chart("cold-start", "Cold start (Init Duration) by runtime",
                 "Dot: median Init Duration of the cold samples; ticks: p90 and p99; thin line: "
                 "min–max. Colour: memory size. Red diamonds: AWS Lambda's mean Init Duration "
                 "from lambda-perf, for comparison.");
  Json series = m.memorySeries();
  const size_t aws_series = series.size();
  Json points = Json::array();
  Span span;
  for (const Json& cell : arrayAt(results, "cells")) {
    const Stat s = statAt(objectAt(cell, "stats"), "cold_init_ms");
    if (!s.hasData() || !s.p50) continue;
    const std::string rt = strOr(cell, "runtime"), wl = strOr(cell, "workload");
    const size_t mem = m.memoryIndex(numberAt(cell, "memory_mb"));
    Json p = {{"s", mem}, {"d", mem}, {"x", m.slot_index.at({rt, wl})},
              {"dx", rt + "/" + wl}, {"y", *s.p50},
              {"tip", cellTitle(cell) + "\n" + statText("cold Init Duration", s, "ms")}};
    span.add(*s.p50);
    addDecorations(p, rangeOf(s), ticksOf({s.p90, s.p99}), span);
    points.push_back(std::move(p));
  }
  bool any_aws = false;
  for (const Json& f : arrayAt(objectAt(results, "compare"), "figures")) {
    auto rt = stringAt(f, "runtime");
    auto mean = numberAt(f, "init_ms_mean");
    if (!rt || !mean) continue;
    any_aws = true;
    auto mb = numberAt(f, "memory_mb");
    const size_t mem = m.memoryIndex(mb);
    span.add(*mean);
    points.push_back(
        {{"s", aws_series}, {"d", mem}, {"x", m.slot_index.at({std::string(*rt), "\x01aws"})},
         {"dx", std::string(*rt) + "/AWS"}, {"y", *mean},
         {"tip", fmt::format("AWS Lambda (lambda-perf) {} · {} MB · {} · {}\nmean Init Duration "
                             "{} ms over {} samples",
                             *rt, mb ? formatMb(*mb) : "?", strOr(f, "package"),
                             strOr(f, "architecture"), formatMs(*mean),
                             arrayAt(f, "init_ms").size())}});
  }
  if (any_aws)
    series.push_back({{"id", "aws"}, {"label", "AWS Lambda mean (lambda-perf)"},
                      {"color", kAwsColor}, {"shape", "diamond"}});
  c["x"] = m.slotAxis("runtime / workload");
  c["y"] = yAxis("Init Duration", "ms", span);
  c["series"] = std::move(series);
  c["points"] = std::move(points);
  return c;
}

Json coldSamplesChart(const Json& results) {
  const Matrix m = Matrix::build(results, /*aws_slots=*/false);
  Json c = chart("cold-samples", "Every cold start",
                 "One dot per successful cold invocation (Init Duration), spread sideways within "
                 "its cell: the distribution and its outliers. Colour: memory size.");
  Json points = Json::array();
  Span span;
  for (const Json& cell : arrayAt(results, "cells")) {
    const std::string rt = strOr(cell, "runtime"), wl = strOr(cell, "workload");
    const size_t mem = m.memoryIndex(numberAt(cell, "memory_mb"));
    const std::string title = cellTitle(cell);
    size_t index = 0, shown = 0;
    for (const Json& sample : arrayAt(cell, "samples")) {
      const size_t i = index++;
      auto kind = stringAt(sample, "kind");
      auto init = numberAt(sample, "init_ms");
      if (!kind || *kind != "cold" || !sampleOk(sample) || !init) continue;
      // Deterministic spread (golden-ratio sequence) so reruns draw the same picture.
      const double jitter = std::fmod(0.5 + 0.618034 * static_cast<double>(shown++), 1.0) - 0.5;
      span.add(*init);
      auto client = numberAt(sample, "client_ms");
      points.push_back({{"s", mem}, {"d", mem}, {"x", m.slot_index.at({rt, wl})},
                        {"dx", rt + "/" + wl}, {"y", *init}, {"j", jitter},
                        {"tip", fmt::format("{}\ncold sample #{}: Init Duration {} ms, "
                                            "client {} ms",
                                            title, i, formatMs(*init),
                                            formatOr(client, formatMs))}});
    }
  }
  c["x"] = m.slotAxis("runtime / workload");
  c["y"] = yAxis("Init Duration", "ms", span);
  c["series"] = m.memorySeries();
  c["points"] = std::move(points);
  return c;
}

Json warmLatencyChart(const Json& results) {
  const Matrix m = Matrix::build(results, /*aws_slots=*/false);
  Json c = chart("warm-latency", "Warm invocations: Duration",
                 "Dot: median Duration of the warm samples; tick: p99; thin line: min–max. "
                 "Colour: memory size.");
  Json points = Json::array();
  Span span;
  for (const Json& cell : arrayAt(results, "cells")) {
    const Json& stats = objectAt(cell, "stats");
    const Stat s = statAt(stats, "warm_duration_ms");
    if (!s.hasData() || !s.p50) continue;
    const std::string rt = strOr(cell, "runtime"), wl = strOr(cell, "workload");
    const size_t mem = m.memoryIndex(numberAt(cell, "memory_mb"));
    Json p = {{"s", mem}, {"d", mem}, {"x", m.slot_index.at({rt, wl})},
              {"dx", rt + "/" + wl}, {"y", *s.p50},
              {"tip", cellTitle(cell) + "\n" + statText("warm Duration", s, "ms") + "\n" +
                          statText("warm client latency", statAt(stats, "warm_client_ms"), "ms")}};
    span.add(*s.p50);
    addDecorations(p, rangeOf(s), ticksOf({s.p99}), span);
    points.push_back(std::move(p));
  }
  c["x"] = m.slotAxis("runtime / workload");
  c["y"] = yAxis("Duration", "ms", span);
  c["series"] = m.memorySeries();
  c["points"] = std::move(points);
  return c;
}

// "duration-memory" and "cost-memory": x = memory, one line per runtime + workload.
Json memoryLineChart(const Json& results, bool cost) {
  const Matrix m = Matrix::build(results, /*aws_slots=*/false);
  Json c = cost ? chart("cost-memory", "Cost per 1M invocations against memory",
                        "Mean cost of one warm invocation (billed duration at the memory size "
                        "plus the request price) times one million, per runtime and workload.")
                : chart("duration-memory", "Warm Duration against memory",
                        "Median warm Duration per runtime and workload: where more memory "
                        "(and so more CPU) stops paying off.");
  c["lines"] = true;
  Json series = Json::array();
  std::map<std::pair<std::string, std::string>, size_t> series_index;
  Json points = Json::array();
  Span yspan, xspan;
  std::vector<double> ticks;
  for (const Json& cell : arrayAt(results, "cells")) {
    const Json& stats = objectAt(cell, "stats");
    const Stat s = statAt(stats, "warm_duration_ms");
    auto mb = numberAt(cell, "memory_mb");
    auto y = cost ? numberAt(stats, "cost_per_million_usd") : s.p50;
    if (!s.hasData() || !mb || !y) continue;
    const std::string rt = strOr(cell, "runtime"), wl = strOr(cell, "workload");
    auto [it, inserted] = series_index.try_emplace({rt, wl}, series.size());
    if (inserted) {
      const size_t rt_i = static_cast<size_t>(
          std::find(m.runtimes.begin(), m.runtimes.end(), rt) - m.runtimes.begin());
      const size_t wl_i = static_cast<size_t>(
          std::find(m.workloads.begin(), m.workloads.end(), wl) - m.workloads.begin());
      const std::string id = m.workloads.size() > 1 ? rt + " / " + wl : rt;
      series.push_back({{"id", id}, {"label", id}, {"color", kPalette[rt_i % kPaletteSize]},
                        {"shape", "circle"}, {"dash", kDashes[wl_i % 4]}});
    }
    addUnique(ticks, *mb);
    xspan.add(*mb);
    yspan.add(*y);
    std::string tip = cellTitle(cell) + "\n";
    if (cost) {
      tip += fmt::format("${} per 1M invocations (warm Duration p50 {} ms, billed p50 {} ms)",
                         formatUsd(*y), formatOr(s.p50, formatMs),
                         formatOr(statAt(stats, "warm_billed_ms").p50, formatMs));
    } else {
      tip += statText("warm Duration", s, "ms");
    }
    points.push_back({{"s", it->second}, {"x", *mb}, {"dx", formatMb(*mb)}, {"y", *y},
                      {"tip", std::move(tip)}});
  }
  std::sort(ticks.begin(), ticks.end());
  // Legend in matrix order (runtime, then workload), whatever order the cells came in.
  std::vector<size_t> order(series.size());
  for (const auto& [key, index] : series_index) {
    const auto rt_i =
        std::find(m.runtimes.begin(), m.runtimes.end(), key.first) - m.runtimes.begin();
    const auto wl_i =
        std::find(m.workloads.begin(), m.workloads.end(), key.second) - m.workloads.begin();
    order[index] = static_cast<size_t>(rt_i) * (m.workloads.size() + 1) + static_cast<size_t>(wl_i);
  }
  std::vector<size_t> sorted(series.size());
  for (size_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
  std::sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) { return order[a] < order[b]; });
  std::vector<size_t> new_index(series.size());
  Json sorted_series = Json::array();
  for (size_t i = 0; i < sorted.size(); ++i) {
    new_index[sorted[i]] = i;
    sorted_series.push_back(std::move(series[sorted[i]]));
  }
  for (Json& p : points) p["s"] = new_index[p["s"].get<size_t>()];
  series = std::move(sorted_series);
  c["x"] = {{"type", "number"}, {"label", "memory"}, {"unit", "MB"}, {"log", xspan.log()},
            {"ticks", ticks}};
  c["y"] = cost ? yAxis("cost per 1M invocations", "USD", yspan)
                : yAxis("Duration p50", "ms", yspan);
  c["series"] = std::move(series);
  c["points"] = std::move(points);
  return c;
}

Json maxMemoryChart(const Json& results) {
  const Matrix m = Matrix::build(results, /*aws_slots=*/false);
  Json c = chart("max-memory", "Max memory used by runtime",
                 "Largest Max Memory Used over the successful invocations of each cell. "
                 "Colour: memory size.");
  Json points = Json::array();
  Span span;
  for (const Json& cell : arrayAt(results, "cells")) {
    auto used = numberAt(objectAt(cell, "stats"), "max_memory_mb");
    if (!used || *used <= 0) continue;
    const std::string rt = strOr(cell, "runtime"), wl = strOr(cell, "workload");
    const size_t mem = m.memoryIndex(numberAt(cell, "memory_mb"));
    span.add(*used);
    points.push_back({{"s", mem}, {"d", mem}, {"x", m.slot_index.at({rt, wl})},
                      {"dx", rt + "/" + wl}, {"y", *used},
                      {"tip", fmt::format("{}\nmax memory used {} MB", cellTitle(cell),
                                          formatMb(*used))}});
  }
  c["x"] = m.slotAxis("runtime / workload");
  c["y"] = yAxis("Max Memory Used", "MB", span);
  c["series"] = m.memorySeries();
  c["points"] = std::move(points);
  return c;
}

// tune: one point per memory size with at least one ok sample.
Json tuneChart(const Json& tune, bool cost) {
  Json c = cost ? chart("tune-cost", "Average cost against memory",
                        "Average cost of one invocation (trimmed mean of the billed duration at "
                        "that memory size, plus the request price), shown per 1M invocations.")
                : chart("tune-duration", "Average Duration against memory",
                        "Trimmed mean of the Duration of the invocations at each memory size.");
  c["lines"] = true;
  auto rec_mb = numberAt(objectAt(tune, "recommendation"), "memory_mb");
  Json points = Json::array();
  Span xspan, yspan;
  std::vector<double> ticks;
  for (const Json& point : arrayAt(tune, "points")) {
    auto mb = numberAt(point, "memory_mb");
    auto dur = numberAt(point, "average_duration_ms");
    auto usd = numberAt(point, "average_cost_usd");
    auto y = cost ? (usd ? std::optional<double>(*usd * 1e6) : std::nullopt) : dur;
    if (!mb || !y) continue;
    size_t ok = 0, total = 0;
    for (const Json& s : arrayAt(point, "samples")) {
      ++total;
      if (sampleOk(s)) ++ok;
    }
    if (ok == 0) continue;
    addUnique(ticks, *mb);
    xspan.add(*mb);
    yspan.add(*y);
    const bool recommended = rec_mb && *rec_mb == *mb;
    Json p = {{"s", 0}, {"x", *mb}, {"dx", formatMb(*mb)}, {"y", *y},
              {"tip", fmt::format("{} MB{}\naverage Duration {} ms, billed {} ms\naverage cost "
                                  "${} per 1M invocations\n{} of {} invocations ok",
                                  formatMb(*mb), recommended ? " (recommended)" : "",
                                  formatOr(dur, formatMs),
                                  formatOr(numberAt(point, "average_billed_ms"), formatMs),
                                  usd ? formatUsd(*usd * 1e6) : std::string("-"), ok, total)}};
    if (recommended) p["hl"] = true;
    points.push_back(std::move(p));
  }
  std::sort(ticks.begin(), ticks.end());
  c["x"] = {{"type", "number"}, {"label", "memory"}, {"unit", "MB"}, {"log", xspan.log()},
            {"ticks", ticks}};
  c["y"] = cost ? yAxis("average cost per 1M invocations", "USD", yspan)
                : yAxis("average Duration", "ms", yspan);
  c["series"] = Json::array({{{"id", cost ? "cost" : "duration"},
                              {"label", cost ? "cost per 1M invocations" : "average Duration"},
                              {"color", kPalette[cost ? 1 : 0]},
                              {"shape", "circle"},
                              {"dash", ""}}});
  c["points"] = std::move(points);
  return c;
}

}  // namespace

bool wantsLogScale(double min_positive, double max) {
  return std::isfinite(min_positive) && min_positive > 0 && std::isfinite(max) &&
         max / min_positive > kLogSpan;
}

Json benchCharts(const Json& results) {
  return Json::array({coldStartChart(results), coldSamplesChart(results),
                      warmLatencyChart(results), memoryLineChart(results, /*cost=*/false),
                      memoryLineChart(results, /*cost=*/true), maxMemoryChart(results)});
}

Json tuneCharts(const Json& tune) {
  return Json::array({tuneChart(tune, /*cost=*/false), tuneChart(tune, /*cost=*/true)});
}

}  // namespace kindling::report
