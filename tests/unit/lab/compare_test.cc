#include "lab/compare.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

namespace kindling::lab {
namespace {

using nlohmann::json;

// Hand-written in lambda-perf's last.json shape (values invented for the test).
constexpr std::string_view kSmallLambdaPerf = R"json({
  "metadata": {"generatedAt": "2030-01-02T03:04:05.678Z"},
  "runtimeData": [
    {"r": "lambda-perf-go_on_provided_al2023-zip-256-arm64", "p": "zip", "d": "go (prov.al2023)",
     "i": [40.5, 42, 39.25], "m": 256, "a": "arm64", "mu": 19, "ad": 1.25, "acd": 40.583},
    {"r": "lambda-perf-python313-image-1024-x86_64", "p": "image", "d": "python3.13",
     "i": [150], "m": 1024, "a": "x86_64", "mu": 40.5, "ad": 2, "acd": 150},
    {"r": "lambda-perf-dotnet8-zip-128-x86_64", "p": "zip", "d": "dotnet8",
     "i": [], "m": 128, "a": "x86_64", "mu": 60, "ad": 5.5, "acd": 0}
  ]
})json";

TEST(LambdaPerf, ParsesAHandWrittenSample) {
  auto ref = parseLambdaPerf(kSmallLambdaPerf, "small.json");
  ASSERT_TRUE(ref.has_value()) << ref.error().context;
  EXPECT_EQ(ref->source, "small.json");
  EXPECT_EQ(ref->generated_at, "2030-01-02T03:04:05.678Z");
  ASSERT_EQ(ref->figures.size(), 3u);
  const AwsFigure& go = ref->figures[0];
  EXPECT_EQ(go.id, "lambda-perf-go_on_provided_al2023-zip-256-arm64");
  EXPECT_EQ(go.display, "go (prov.al2023)");
  EXPECT_EQ(go.runtime, "go");
  EXPECT_EQ(go.package, "zip");
  EXPECT_EQ(go.architecture, "arm64");
  EXPECT_EQ(go.memory_mb, 256);
  EXPECT_EQ(go.init_ms, (std::vector<double>{40.5, 42, 39.25}));
  EXPECT_EQ(go.init_ms_mean, 40.583);
  EXPECT_EQ(go.duration_ms_mean, 1.25);
  EXPECT_EQ(go.max_memory_mb, 19);
  EXPECT_EQ(ref->figures[1].runtime, "python3.13");
  EXPECT_EQ(ref->figures[1].package, "image");
  EXPECT_EQ(ref->figures[2].runtime, "");
  EXPECT_TRUE(ref->figures[2].init_ms.empty());
}

std::string parseError(std::string_view text) {
  auto r = parseLambdaPerf(text, "x.json");
  if (r.has_value()) return "(accepted)";
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  return r.error().context;
}

TEST(LambdaPerf, MalformedInputIsAClearError) {
  EXPECT_EQ(parseError(""), "lambda-perf x.json: not valid JSON");
  EXPECT_EQ(parseError("{\"metadata\": {"), "lambda-perf x.json: not valid JSON");
  EXPECT_EQ(parseError("[]"), "lambda-perf x.json: document: expected an object, got array");
  EXPECT_EQ(parseError(R"({"runtimeData": []})"), "lambda-perf x.json: metadata: missing");
  EXPECT_EQ(parseError(R"({"metadata": {}, "runtimeData": []})"),
            "lambda-perf x.json: metadata.generatedAt: missing");
  EXPECT_EQ(parseError(R"({"metadata": {"generatedAt": "t"}, "runtimeData": {}})"),
            "lambda-perf x.json: runtimeData: expected an array, got object");
  EXPECT_EQ(parseError(R"({"metadata": {"generatedAt": "t"}, "runtimeData": [1]})"),
            "lambda-perf x.json: runtimeData[0]: expected an object, got number");

  json doc = json::parse(kSmallLambdaPerf);
  doc["runtimeData"][1]["i"][0] = "slow";
  EXPECT_EQ(parseError(doc.dump()),
            "lambda-perf x.json: runtimeData[1].i[0]: expected a number, got string");
  doc = json::parse(kSmallLambdaPerf);
  doc["runtimeData"][2]["m"] = "128";
  EXPECT_EQ(parseError(doc.dump()), "lambda-perf x.json: runtimeData[2].m: expected an integer, got string");
  doc = json::parse(kSmallLambdaPerf);
  doc["runtimeData"][0].erase("acd");
  EXPECT_EQ(parseError(doc.dump()), "lambda-perf x.json: runtimeData[0].acd: missing");
  doc = json::parse(kSmallLambdaPerf);
  doc["runtimeData"][0]["m"] = 0;
  EXPECT_EQ(parseError(doc.dump()), "lambda-perf x.json: runtimeData[0].m: memory must be positive");
}

// Every display name in the 2026-08-22 lambda-perf file, decided one by one.
const std::map<std::string, std::string>& expectedLabels() {
  static const std::map<std::string, std::string> labels = {
      {"apple swift 5.8 (prov.al2)", ""},
      {"apple swift 6.2 (prov.al2)", ""},
      {"bun (prov.al2)", ""},
      {"bun layer(prov.al2)", ""},
      {"c++ 11 (prov.al2)", ""},  // al2 build; the al2023 one is the cpp reference
      {"c++ 11 (prov.al2023)", "cpp"},
      {"dotnet10", ""},
      {"dotnet10 aot (prov.al2023)", ""},
      {"dotnet7 aot (prov.al2)", ""},
      {"dotnet8", ""},
      {"dotnet8 aot (prov.al2023)", ""},
      {"dotnet9 aot (prov.al2023)", ""},
      {"go (prov.al2)", ""},
      {"go (prov.al2023)", "go"},
      {"graalvm java17 (prov.al2)", ""},
      {"graalvm java21 (prov.al2023)", ""},
      {"graalvm java23 (prov.al2023)", ""},
      {"java11", "java11"},
      {"java17", "java17"},
      {"java21", "java21"},
      {"java25", "java25"},
      {"java8.al2", "java8.al2"},
      {"llrt (prov.al2023)", ""},
      {"nodejs20.x", "nodejs20.x"},
      {"nodejs22.x", "nodejs22.x"},
      {"nodejs24.x", "nodejs24.x"},
      {"python3.10", "python3.10"},
      {"python3.11", "python3.11"},
      {"python3.12", "python3.12"},
      {"python3.13", "python3.13"},
      {"python3.14", "python3.14"},
      {"python3.9", "python3.9"},
      {"quarkus (prov.al2)", ""},
      {"ruby3.2", "ruby3.2"},
      {"ruby3.3", "ruby3.3"},
      {"ruby3.4", "ruby3.4"},
      {"rust (prov.al2)", ""},
      {"rust (prov.al2023)", "rust"},
      {"shell (prov.al2)", ""},
      {"shell (prov.al2023)", ""},
  };
  return labels;
}

TEST(LocalRuntimeFor, EveryKnownDisplayName) {
  for (const auto& [display, label] : expectedLabels()) {
    EXPECT_EQ(localRuntimeFor(display), label) << display;
  }
  // Near misses stay unmapped.
  for (const char* other : {"", "python", "python3.", "python3.12 snapstart", "java21 snapstart",
                            "nodejs22", "nodejs.x", "ruby", "go", "rust", "cpp", "Python3.12"}) {
    EXPECT_EQ(localRuntimeFor(other), "") << other;
  }
}

constexpr const char* kFixture = "/work/shared/data/lambda-perf-2026-08-22.json";

TEST(LambdaPerf, ParsesThePublishedFixture) {
  if (!std::filesystem::exists(kFixture)) GTEST_SKIP() << kFixture << " is not on this host";
  std::ifstream in(kFixture);
  std::stringstream text;
  text << in.rdbuf();
  auto ref = parseLambdaPerf(text.str(), kFixture);
  ASSERT_TRUE(ref.has_value()) << ref.error().context;
  EXPECT_EQ(ref->generated_at, "2026-08-22T14:00:43.227Z");
  ASSERT_EQ(ref->figures.size(), 620u);

  std::set<std::string> displays;
  const AwsFigure* py = nullptr;
  for (const AwsFigure& f : ref->figures) {
    displays.insert(f.display);
    if (f.id == "lambda-perf-python312-zip-128-x86_64") py = &f;
    EXPECT_TRUE(f.architecture == "x86_64" || f.architecture == "arm64") << f.id;
    EXPECT_TRUE(f.package == "zip" || f.package == "image") << f.id;
  }
  // No display name the mapping has not been decided for.
  std::set<std::string> decided;
  for (const auto& [display, label] : expectedLabels()) decided.insert(display);
  EXPECT_EQ(displays, decided);

  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->display, "python3.12");
  EXPECT_EQ(py->runtime, "python3.12");
  EXPECT_EQ(py->memory_mb, 128);
  EXPECT_EQ(py->architecture, "x86_64");
  EXPECT_EQ(py->package, "zip");
  EXPECT_EQ(py->init_ms,
            (std::vector<double>{84.7, 88.02, 81.83, 81.07, 79.69, 95.81, 82.72, 93.28, 85.41, 79.73}));
  EXPECT_EQ(py->init_ms_mean, 85.226);
  EXPECT_EQ(py->duration_ms_mean, 1.847);
  EXPECT_EQ(py->max_memory_mb, 36.9);

  // Filtering to a bench's runtimes: 4 memory sizes x 2 architectures x 2 packages each.
  const AwsReference some = filterTo(*ref, {"python3.12", "go", "cpp"});
  EXPECT_EQ(some.figures.size(), 48u);
  EXPECT_EQ(some.generated_at, ref->generated_at);
}

TEST(AwsReference, FilterKeepsOrderAndDropsUnmapped) {
  auto ref = parseLambdaPerf(kSmallLambdaPerf, "small.json");
  ASSERT_TRUE(ref.has_value());
  AwsReference only_python = filterTo(*ref, {"python3.13", ""});
  ASSERT_EQ(only_python.figures.size(), 1u);  // "" never matches the unmapped dotnet8
  EXPECT_EQ(only_python.figures[0].display, "python3.13");
  EXPECT_EQ(only_python.source, "small.json");
  const AwsReference both = filterTo(*ref, {"python3.13", "go"});
  ASSERT_EQ(both.figures.size(), 2u);
  EXPECT_EQ(both.figures[0].runtime, "go");
  EXPECT_TRUE(filterTo(*ref, {}).figures.empty());
}

TEST(AwsReference, JsonRoundTripWritesNullForUnmapped) {
  auto ref = parseLambdaPerf(kSmallLambdaPerf, "small.json");
  ASSERT_TRUE(ref.has_value());
  const json j = toJson(*ref);
  EXPECT_EQ(j.at("source"), "small.json");
  EXPECT_EQ(j.at("generated_at"), "2030-01-02T03:04:05.678Z");
  ASSERT_EQ(j.at("figures").size(), 3u);
  EXPECT_EQ(j.at("figures")[0].at("runtime"), "go");
  EXPECT_EQ(j.at("figures")[0].at("init_ms_mean"), 40.583);
  EXPECT_TRUE(j.at("figures")[2].at("runtime").is_null());
  auto back = awsReferenceFromJson(json::parse(j.dump()));
  ASSERT_TRUE(back.has_value()) << back.error().context;
  EXPECT_EQ(toJson(*back), j);

  json bad = j;
  bad["figures"][0]["runtime"] = 3;
  auto r = awsReferenceFromJson(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().context, "compare.figures[0].runtime: expected a string or null, got number");
}

}  // namespace
}  // namespace kindling::lab
