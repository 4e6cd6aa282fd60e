#include "lab/tune.h"

#include <cmath>

#include <gtest/gtest.h>

namespace kindling::lab {
namespace {

using nlohmann::json;

Sample ok(double duration, double billed) {
  return Sample{false, std::nullopt, duration, billed, 30, duration + 0.5, std::nullopt};
}
Sample bad(std::string error) { return Sample{false, std::nullopt, 0, 0, 0, 3000, std::move(error)}; }

// A point with given averages; eligible unless `all_failed`.
TunePoint point(int memory, double duration, double cost, bool all_failed = false) {
  TunePoint p;
  p.memory_mb = memory;
  p.samples = {all_failed ? bad("Sandbox.Timedout") : ok(duration, std::ceil(duration))};
  p.errors = all_failed ? 1 : 0;
  p.average_duration_ms = duration;
  p.average_billed_ms = std::ceil(duration);
  p.average_cost_usd = cost;
  return p;
}

TEST(Strategy, Names) {
  EXPECT_EQ(*parseStrategy("cost"), Strategy::Cost);
  EXPECT_EQ(*parseStrategy("speed"), Strategy::Speed);
  EXPECT_EQ(*parseStrategy("balanced"), Strategy::Balanced);
  EXPECT_EQ(strategyName(Strategy::Balanced), "balanced");
  auto r = parseStrategy("cheap");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(r.error().context, "unknown strategy 'cheap' (expected cost, speed or balanced)");
}

TEST(ComputeTunePoint, TrimmedAveragesAndCost) {
  TunePoint p;
  p.memory_mb = 128;
  // Ok durations [10, 11, 12, 13, 100], billed [11, 12, 13, 14, 101]; one failure, excluded.
  p.samples = {ok(100, 101), ok(12, 13), bad("Runtime.ExitError"), ok(10, 11), ok(13, 14), ok(11, 12)};
  computeTunePoint(p, defaultPricing(Architecture::X86_64), 0.2);
  // 5 ok values, discard 0.2: drop floor(1.0) = 1 each end.
  EXPECT_DOUBLE_EQ(p.average_duration_ms, 12);  // (11 + 12 + 13) / 3
  EXPECT_DOUBLE_EQ(p.average_billed_ms, 13);    // (12 + 13 + 14) / 3
  // 13 ms at 128 MB: 0.013 * 0.125 = 0.001625 GB-s * 0.0000166667 = 0.0000000270833875;
  // + 0.0000002 = 0.0000002270833875.
  EXPECT_NEAR(p.average_cost_usd, 0.0000002270833875, 1e-16);
  EXPECT_EQ(p.errors, 1u);
  EXPECT_TRUE(isEligible(p));

  // No discard: plain means (146 / 5, 151 / 5); arm64 3008 MB: 30.2 ms * 2.9375 GB / 1000 =
  // 0.0887125 GB-s * 0.0000133334 = 0.000001182839... + 0.0000002.
  computeTunePoint(p, defaultPricing(Architecture::Arm64), 0);
  EXPECT_DOUBLE_EQ(p.average_duration_ms, 29.2);
  EXPECT_DOUBLE_EQ(p.average_billed_ms, 30.2);
  p.memory_mb = 3008;
  computeTunePoint(p, defaultPricing(Architecture::Arm64), 0);
  EXPECT_NEAR(p.average_cost_usd, 0.0887125 * 0.0000133334 + 0.0000002, 1e-16);
}

TEST(ComputeTunePoint, AllFailedIsZeroAndIneligible) {
  TunePoint p;
  p.memory_mb = 256;
  p.samples = {bad("A"), bad("B")};
  p.average_duration_ms = 99;  // stale values are reset
  computeTunePoint(p, Pricing{}, 0.2);
  EXPECT_EQ(p.errors, 2u);
  EXPECT_EQ(p.average_duration_ms, 0);
  EXPECT_EQ(p.average_billed_ms, 0);
  EXPECT_EQ(p.average_cost_usd, 0);
  EXPECT_FALSE(isEligible(p));
  TunePoint empty;
  EXPECT_FALSE(isEligible(empty));
}

TEST(ChooseTunePoint, CostAndSpeedWithTies) {
  const std::vector<TunePoint> points = {
      point(128, 100, 2e-7),   // 0
      point(256, 50, 2e-7),    // 1: as cheap as 128, faster
      point(512, 20, 3e-7),    // 2
      point(1024, 20, 4e-7),   // 3: as fast as 512, dearer
  };
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Cost, 0.5), 1u);
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Speed, 0.5), 2u);
  // Full ties (same cost and duration): the earlier (smaller) memory.
  const std::vector<TunePoint> same = {point(128, 10, 2e-7), point(256, 10, 2e-7)};
  EXPECT_EQ(*chooseTunePoint(same, Strategy::Cost, 0.5), 0u);
  EXPECT_EQ(*chooseTunePoint(same, Strategy::Speed, 0.5), 0u);
  EXPECT_EQ(*chooseTunePoint(same, Strategy::Balanced, 0.5), 0u);
}

TEST(ChooseTunePoint, BalancedByHand) {
  // max cost 4, max duration 100; weight 0.5:
  // 128: 0.5 * 1/4 + 0.5 * 100/100 = 0.625; 256: 0.5 * 2/4 + 0.5 * 40/100 = 0.45;
  // 512: 0.5 * 4/4 + 0.5 * 30/100 = 0.65 -> 256.
  const std::vector<TunePoint> points = {point(128, 100, 1), point(256, 40, 2), point(512, 30, 4)};
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Balanced, 0.5), 1u);
  // weight 0.9: 128: 0.9 * 0.25 + 0.1 * 1 = 0.325; 256: 0.45 + 0.04 = 0.49 -> 128.
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Balanced, 0.9), 0u);
  // weight 0.1: 128: 0.025 + 0.9 = 0.925; 256: 0.05 + 0.36 = 0.41; 512: 0.1 + 0.27 = 0.37 -> 512.
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Balanced, 0.1), 2u);
}

TEST(ChooseTunePoint, BalancedWeightZeroIsSpeedAndOneIsCost) {
  const std::vector<std::vector<TunePoint>> cases = {
      {point(128, 100, 2e-7), point(256, 50, 2e-7), point(512, 20, 3e-7), point(1024, 20, 4e-7)},
      {point(128, 10, 5e-7), point(256, 10, 4e-7), point(512, 9, 6e-7)},
      {point(128, 30, 1e-7), point(256, 30, 1e-7), point(512, 25, 1e-7)},
      {point(128, 0, 0), point(256, 0, 0)},  // all-zero maxima must not divide by zero
      {point(128, 5, 3e-7, true), point(256, 8, 2e-7), point(512, 4, 2.5e-7)},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(*chooseTunePoint(cases[i], Strategy::Balanced, 0), *chooseTunePoint(cases[i], Strategy::Speed, 0.5))
        << "case " << i;
    EXPECT_EQ(*chooseTunePoint(cases[i], Strategy::Balanced, 1), *chooseTunePoint(cases[i], Strategy::Cost, 0.5))
        << "case " << i;
  }
  EXPECT_EQ(*chooseTunePoint(cases[0], Strategy::Balanced, 0), 2u);
  EXPECT_EQ(*chooseTunePoint(cases[0], Strategy::Balanced, 1), 1u);
}

TEST(ChooseTunePoint, FailedPointsAreNotEligible) {
  // The all-failed 128 MB point has zero averages: it would win every strategy if counted, and
  // its zeros must not shift the balanced maxima either.
  const std::vector<TunePoint> points = {point(128, 0, 0, true), point(256, 40, 2), point(512, 30, 4)};
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Cost, 0.5), 1u);
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Speed, 0.5), 2u);
  // max cost 4, max duration 40: 256: 0.5 * 0.5 + 0.5 * 1 = 0.75; 512: 0.5 + 0.375 = 0.875.
  EXPECT_EQ(*chooseTunePoint(points, Strategy::Balanced, 0.5), 1u);
}

TEST(ChooseTunePoint, ErrorsWhenNothingIsEligibleOrWeightIsBad) {
  const std::vector<TunePoint> failed = {point(128, 0, 0, true), point(256, 0, 0, true)};
  for (Strategy s : {Strategy::Cost, Strategy::Speed, Strategy::Balanced}) {
    auto r = chooseTunePoint(failed, s, 0.5);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::NotFound);
    EXPECT_EQ(r.error().context, "no memory size had a successful invocation");
  }
  auto r = chooseTunePoint({}, Strategy::Cost, 0.5);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().context, "no memory sizes were tuned");

  const std::vector<TunePoint> fine = {point(128, 10, 1e-7)};
  for (double w : {-0.1, 1.5, std::nan("")}) {
    r = chooseTunePoint(fine, Strategy::Balanced, w);
    ASSERT_FALSE(r.has_value()) << w;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  }
  EXPECT_EQ(*chooseTunePoint(fine, Strategy::Cost, 1.5), 0u);  // weight only matters to balanced
}

TuneResult sampleTune() {
  TuneResult t;
  t.meta.generated_at = "2026-11-26T20:01:02Z";
  t.meta.kindling_version = "0.6.0";
  t.meta.host = "box";
  t.meta.cpus = 2;
  t.meta.endpoint = "http://127.0.0.1:9000";
  t.meta.function = "my-fn";
  t.meta.payload = "{\"n\": 30}";
  t.meta.invocations = 5;
  t.meta.discard_top_bottom = 0.2;
  t.meta.original_memory_mb = 128;
  t.pricing = defaultPricing(Architecture::X86_64);
  t.strategy = Strategy::Balanced;
  t.weight = 0.5;
  const Pricing& p = t.pricing;
  for (int mem : {128, 512, 1769}) {
    TunePoint pt;
    pt.memory_mb = mem;
    const double base = 200.0 * 128 / mem;
    pt.samples = {Sample{true, 80.5, base + 3, base + 4, 40, base + 90, std::nullopt},
                  ok(base, std::ceil(base)), ok(base + 1, std::ceil(base + 1)),
                  ok(base - 1, std::ceil(base - 1)), bad("Runtime.ExitError")};
    computeTunePoint(pt, p, t.meta.discard_top_bottom);
    t.points.push_back(pt);
  }
  TunePoint dead;
  dead.memory_mb = 3008;
  dead.samples = {bad("Sandbox.Timedout")};
  computeTunePoint(dead, p, 0.2);
  t.points.push_back(dead);
  t.chosen = *chooseTunePoint(t.points, t.strategy, t.weight);
  return t;
}

TEST(TuneJson, FollowsTheContractAndRoundTrips) {
  const TuneResult t = sampleTune();
  const json j = toJson(t);
  EXPECT_EQ(j.at("schema"), "kindling.tune/1");
  EXPECT_EQ(j.at("strategy"), "balanced");
  EXPECT_EQ(j.at("weight"), 0.5);
  EXPECT_EQ(j.at("applied"), false);
  EXPECT_EQ(j.at("meta").at("function"), "my-fn");
  EXPECT_EQ(j.at("meta").at("discard_top_bottom"), 0.2);
  EXPECT_EQ(j.at("meta").at("original_memory_mb"), 128);
  ASSERT_EQ(j.at("points").size(), 4u);
  EXPECT_EQ(j.at("points")[0].at("samples").size(), 5u);
  EXPECT_EQ(j.at("points")[0].at("samples")[0].at("kind"), "cold");
  EXPECT_EQ(j.at("points")[0].at("errors"), 1);
  EXPECT_EQ(j.at("points")[3].at("errors"), 1);
  const TunePoint& chosen = t.points[t.chosen];
  EXPECT_EQ(j.at("recommendation").at("memory_mb"), chosen.memory_mb);
  EXPECT_EQ(j.at("recommendation").at("average_cost_usd"), chosen.average_cost_usd);
  EXPECT_EQ(j.at("recommendation").at("average_duration_ms"), chosen.average_duration_ms);

  auto back = tuneResultFromJson(json::parse(j.dump()));
  ASSERT_TRUE(back.has_value()) << back.error().context;
  EXPECT_EQ(back->chosen, t.chosen);
  EXPECT_EQ(toJson(*back), j);

  TuneResult none = t;
  none.chosen = none.points.size();
  const json jn = toJson(none);
  EXPECT_TRUE(jn.at("recommendation").is_null());
  auto back_none = tuneResultFromJson(jn);
  ASSERT_TRUE(back_none.has_value()) << back_none.error().context;
  EXPECT_EQ(back_none->chosen, none.points.size());
}

TEST(TuneJson, MalformedDocumentsGiveClearErrors) {
  const json good = toJson(sampleTune());
  auto errorOf = [](const json& doc) {
    auto r = tuneResultFromJson(doc);
    return r.has_value() ? std::string("(accepted)") : r.error().context;
  };
  json bad = good;
  bad["schema"] = "kindling.bench/1";
  EXPECT_EQ(errorOf(bad), "schema: expected \"kindling.tune/1\", got \"kindling.bench/1\"");
  bad = good;
  bad["strategy"] = "fast";
  EXPECT_EQ(errorOf(bad), "strategy: unknown strategy 'fast' (expected cost, speed or balanced)");
  bad = good;
  bad["recommendation"]["memory_mb"] = 999;
  EXPECT_EQ(errorOf(bad), "recommendation.memory_mb: no point has 999 MB");
  bad = good;
  bad["points"][2]["samples"][0].erase("client_ms");
  EXPECT_EQ(errorOf(bad), "points[2].samples[0].client_ms: missing");
  bad = good;
  bad["applied"] = "no";
  EXPECT_EQ(errorOf(bad), "applied: expected true or false, got string");
  bad = good;
  bad["meta"]["invocations"] = nullptr;
  EXPECT_EQ(errorOf(bad), "meta.invocations: expected an integer, got null");
  EXPECT_EQ(errorOf(json("tune")), "document: expected an object, got string");
}

TEST(TuneTable, MarksTheRecommendationAndSaysWhy) {
  TuneResult t = sampleTune();
  const std::string text = renderTuneTable(t);
  const std::string mem = std::to_string(t.points[t.chosen].memory_mb);
  // The starred row is the recommendation's.
  size_t star = std::string::npos;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line[0] == '*' && line.find("Recommended") == std::string::npos) {
      EXPECT_EQ(star, std::string::npos) << "two starred rows\n" << text;
      star = pos;
      EXPECT_NE(line.find(" " + mem + " "), std::string::npos) << line;
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  EXPECT_NE(star, std::string::npos) << text;
  EXPECT_NE(text.find("Recommended: " + mem + " MB (strategy balanced, weight 0.50"), std::string::npos) << text;
  EXPECT_NE(text.find("Not applied: my-fn keeps 128 MB."), std::string::npos) << text;
  // The all-failed 3008 MB point shows dashes and 1/1 errors.
  EXPECT_NE(text.find("3008"), std::string::npos);
  EXPECT_NE(text.find("1/1"), std::string::npos);

  t.strategy = Strategy::Cost;
  t.applied = true;
  const std::string cost = renderTuneTable(t);
  EXPECT_NE(cost.find("strategy cost: the lowest average cost per invocation"), std::string::npos) << cost;
  EXPECT_NE(cost.find("Applied: my-fn now runs with " + mem + " MB (was 128 MB)."), std::string::npos);

  t.chosen = t.points.size();
  EXPECT_NE(renderTuneTable(t).find("No recommendation"), std::string::npos);
}

}  // namespace
}  // namespace kindling::lab
