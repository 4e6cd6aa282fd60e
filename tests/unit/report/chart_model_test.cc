#include "report/chart_model.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "report_fixtures.h"

namespace kindling::report {
namespace {

using testing::benchDoc;
using testing::cell;
using testing::Json;
using testing::tuneDoc;

std::map<std::string, Json> byName(const Json& charts) {
  std::map<std::string, Json> out;
  for (const Json& c : charts) out[c["name"].get<std::string>()] = c;
  return out;
}

size_t countSeries(const Json& chart, const std::string& id) {
  size_t n = 0;
  for (const Json& p : chart["points"])
    if (chart["series"][p["s"].get<size_t>()]["id"] == id) ++n;
  return n;
}

TEST(ChartModel, BenchChartsFollowTheRules) {
  Json doc = benchDoc();
  // one cell without any ok cold sample and without warm data
  doc["cells"][5] = cell("nodejs22.x", "cpu", 128, {}, {});
  auto charts = byName(benchCharts(doc));
  ASSERT_EQ(charts.size(), 6u);
  // 7 cells with cold data + 3 AWS figures with a runtime (the null one is left out)
  EXPECT_EQ(charts["cold-start"]["points"].size(), 7u + 3u);
  EXPECT_EQ(countSeries(charts["cold-start"], "aws"), 3u);
  EXPECT_EQ(charts["cold-samples"]["points"].size(), 7u * 3u);
  EXPECT_EQ(charts["warm-latency"]["points"].size(), 7u);
  EXPECT_EQ(charts["duration-memory"]["points"].size(), 7u);
  EXPECT_EQ(charts["cost-memory"]["points"].size(), 7u);
  EXPECT_EQ(charts["max-memory"]["points"].size(), 7u);
  // series: memory sizes (+ aws); per runtime+workload on the memory charts
  EXPECT_EQ(charts["max-memory"]["series"].size(), 2u);
  EXPECT_EQ(charts["duration-memory"]["series"].size(), 4u);
  EXPECT_EQ(charts["duration-memory"]["series"][0]["id"], "python3.12 / hello");
  // cold starts 4.28 ms .. 900 ms span > 30x: log; max memory 31 MB everywhere: linear
  EXPECT_TRUE(charts["cold-start"]["y"]["log"].get<bool>());
  EXPECT_FALSE(charts["max-memory"]["y"]["log"].get<bool>());
  EXPECT_FALSE(charts["duration-memory"]["x"]["log"].get<bool>());  // 128..1024 = 8x
  // slots: 2 runtimes x 2 workloads + an AWS slot per runtime with figures
  EXPECT_EQ(charts["cold-start"]["x"]["slots"].size(), 6u);
  EXPECT_EQ(charts["max-memory"]["x"]["slots"].size(), 4u);
  // a cold-start point carries its p90/p99 ticks and its min-max range
  const Json& first = charts["cold-start"]["points"][0];
  EXPECT_EQ(first["y"], 40);
  EXPECT_EQ(first["t"], Json({900, 900}));
  EXPECT_EQ(first["r"][1], 900);
  EXPECT_EQ(first["dx"], "python3.12/hello");
  EXPECT_NE(first["tip"].get<std::string>().find("p99 900 ms"), std::string::npos);
}

TEST(ChartModel, FailedColdSamplesAreNotPlotted) {
  Json doc = benchDoc();
  doc["cells"][0]["samples"][1]["error"] = "Runtime.ExitError";
  auto charts = byName(benchCharts(doc));
  EXPECT_EQ(charts["cold-samples"]["points"].size(), 8u * 3u - 1u);
}

TEST(ChartModel, MistypedFieldsAreSkipped) {
  Json doc = benchDoc();
  doc["cells"][0]["stats"] = "oops";
  doc["cells"][1]["memory_mb"] = "128";
  doc["cells"][2]["samples"] = 7;
  doc["cells"][3]["stats"]["cold_init_ms"]["p50"] = nullptr;
  doc["cells"].push_back(nullptr);
  doc["cells"].push_back(Json::array({1, 2}));
  doc["compare"]["figures"][0]["init_ms_mean"] = "fast";
  doc["meta"]["runtimes"] = 3;
  auto charts = byName(benchCharts(doc));
  EXPECT_EQ(charts["cold-start"]["points"].size(), 8u - 2u + 2u);   // cells 0, 3 out; 1 AWS out
  EXPECT_EQ(charts["warm-latency"]["points"].size(), 7u);            // cell 0 out
  EXPECT_EQ(charts["duration-memory"]["points"].size(), 6u);         // cells 0, 1 out
  EXPECT_EQ(charts["cold-samples"]["points"].size(), 7u * 3u);  // cell 2 (no samples) out
}

TEST(ChartModel, EmptyDocumentsGiveEmptyCharts) {
  for (const Json& doc : {Json(), Json::array(), Json::object(),
                          Json{{"cells", Json::array()}, {"compare", nullptr}}}) {
    const Json charts = benchCharts(doc);
    ASSERT_EQ(charts.size(), 6u);
    for (const Json& c : charts) EXPECT_TRUE(c["points"].empty()) << c["name"];
    const Json tune = tuneCharts(doc);
    ASSERT_EQ(tune.size(), 2u);
    for (const Json& c : tune) EXPECT_TRUE(c["points"].empty()) << c["name"];
  }
}

TEST(ChartModel, TuneChartsHighlightTheRecommendation) {
  auto charts = byName(tuneCharts(tuneDoc()));
  for (const char* name : {"tune-duration", "tune-cost"}) {
    const Json& c = charts[name];
    ASSERT_EQ(c["points"].size(), 3u) << name;  // 1024 MB: every sample failed
    size_t highlighted = 0;
    for (const Json& p : c["points"])
      if (p.value("hl", false)) {
        ++highlighted;
        EXPECT_EQ(p["x"], 256);
      }
    EXPECT_EQ(highlighted, 1u) << name;
  }
  // cost is plotted per 1M invocations
  EXPECT_NEAR(charts["tune-cost"]["points"][0]["y"].get<double>(), (0.0000002 + 128e-10) * 1e6,
              1e-9);
  EXPECT_NEAR(charts["tune-duration"]["points"][0]["y"].get<double>(), 30000.0 / 128, 1e-9);
}

}  // namespace
}  // namespace kindling::report
