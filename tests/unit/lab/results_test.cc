#include "lab/results.h"

#include <sstream>

#include <gtest/gtest.h>

namespace kindling::lab {
namespace {

using nlohmann::json;

Sample cold(double init, double duration, double billed, double mem, double client) {
  return Sample{true, init, duration, billed, mem, client, std::nullopt};
}
Sample warm(double duration, double billed, double mem, double client) {
  return Sample{false, std::nullopt, duration, billed, mem, client, std::nullopt};
}
Sample failed(bool is_cold, std::string error, double client, double mem = 0) {
  return Sample{is_cold, std::nullopt, 0, 0, mem, client, std::move(error)};
}

Cell makeCell(std::string runtime, int memory, std::string workload, std::vector<Sample> samples) {
  Cell c;
  c.runtime = runtime;
  c.runtime_id = (runtime == "go" || runtime == "rust") ? "provided.al2023" : runtime;
  c.workload = std::move(workload);
  c.memory_mb = memory;
  c.samples = std::move(samples);
  return c;
}

// python3.12 / 128 MB / hello with one failed cold and one failed warm sample.
Cell mixedCell() {
  return makeCell("python3.12", 128, "hello",
                  {cold(25.1, 1.2, 27, 31, 30.4), failed(true, "Runtime.ExitError", 50, 128),
                   warm(0.9, 1, 31, 1.3), warm(12.5, 13, 33, 14),
                   failed(false, "Sandbox.Timedout", 3001.2)});
}

TEST(CellStats, OkSamplesOnly) {
  const CellStats s = cellStats(mixedCell(), defaultPricing(Architecture::X86_64));
  EXPECT_EQ(s.errors, 2u);
  EXPECT_EQ(s.cold_init_ms.count, 1u);
  EXPECT_EQ(s.cold_init_ms.p50, 25.1);
  EXPECT_EQ(s.cold_client_ms.count, 1u);
  EXPECT_EQ(s.cold_client_ms.max, 30.4);  // the failed cold's 50 ms is not in
  EXPECT_EQ(s.warm_duration_ms.count, 2u);
  EXPECT_EQ(s.warm_duration_ms.p50, 0.9);
  EXPECT_EQ(s.warm_duration_ms.p90, 12.5);
  EXPECT_DOUBLE_EQ(s.warm_duration_ms.mean, 6.7);
  EXPECT_EQ(s.warm_client_ms.max, 14);  // not the 3001.2 ms timeout
  EXPECT_EQ(s.warm_billed_ms.min, 1);
  EXPECT_EQ(s.warm_billed_ms.max, 13);
  EXPECT_EQ(s.max_memory_mb, 33);  // the failed cold's 128 MB is not in
  // Warm ok: 1 ms -> 0.0000002020833375, 13 ms -> 0.001625 GB-s * 0.0000166667 + 0.0000002 =
  // 0.0000002270833875; mean 0.0000002145833625 -> 0.2145833625 per 1M.
  EXPECT_NEAR(s.cost_per_million_usd, 0.2145833625, 1e-10);
}

TEST(CellStats, NoSamplesOrAllFailed) {
  const Pricing p;
  CellStats s = cellStats(makeCell("go", 128, "cpu", {}), p);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.cold_init_ms.count, 0u);
  EXPECT_EQ(s.cost_per_million_usd, 0);
  s = cellStats(makeCell("go", 128, "cpu", {failed(true, "X", 1, 50), failed(false, "Y", 2, 60)}), p);
  EXPECT_EQ(s.errors, 2u);
  EXPECT_EQ(s.max_memory_mb, 0);
  EXPECT_EQ(s.warm_client_ms.count, 0u);
  EXPECT_EQ(s.cost_per_million_usd, 0);
}

const Decision* findDecision(const std::vector<Decision>& ds, const std::string& workload,
                             const std::string& criterion) {
  for (const Decision& d : ds) {
    if (d.workload == workload && d.criterion == criterion) return &d;
  }
  return nullptr;
}

TEST(Decide, PerWorkloadMinimaInFirstSeenOrder) {
  const std::vector<Cell> cells = {
      makeCell("python3.12", 128, "hello", {cold(30, 2, 3, 40, 35), warm(1.5, 2, 40, 2)}),
      makeCell("python3.12", 512, "hello", {cold(20, 1, 21, 41, 25), warm(0.8, 1, 41, 1)}),
      makeCell("go", 128, "hello", {cold(5, 0.5, 6, 12, 9), warm(0.3, 1, 12, 0.6)}),
      makeCell("go", 128, "cpu", {cold(6, 90, 96, 13, 100), warm(80, 80, 13, 85)}),
      makeCell("python3.12", 128, "cpu", {cold(31, 900, 931, 45, 950), warm(850, 850, 45, 860)}),
  };
  const auto ds = decide(cells, defaultPricing(Architecture::X86_64));
  ASSERT_EQ(ds.size(), 8u);
  EXPECT_EQ(ds[0].workload, "hello");
  EXPECT_EQ(ds[0].criterion, kFastestColdStart);
  EXPECT_EQ(ds[1].criterion, kFastestWarm);
  EXPECT_EQ(ds[2].criterion, kCheapest);
  EXPECT_EQ(ds[3].criterion, kLowestMemory);
  EXPECT_EQ(ds[4].workload, "cpu");

  const Decision* d = findDecision(ds, "hello", kFastestColdStart);
  EXPECT_EQ(d->runtime, "go");
  EXPECT_EQ(d->memory_mb, 128);
  EXPECT_EQ(d->value, 5);
  EXPECT_EQ(d->unit, "ms");
  d = findDecision(ds, "hello", kFastestWarm);
  EXPECT_EQ(d->runtime, "go");
  EXPECT_EQ(d->value, 0.3);
  // Cheapest hello: python 128 bills 2 ms at 128 MB, go bills 1 ms at 128 MB, python 512 bills
  // 1 ms at 512 MB: go, 0.001 * 0.125 * 0.0000166667 + 0.0000002 = 0.0000002020833375 -> 0.2021.
  d = findDecision(ds, "hello", kCheapest);
  EXPECT_EQ(d->runtime, "go");
  EXPECT_EQ(d->unit, "USD");
  EXPECT_NEAR(d->value, 0.2020833375, 1e-10);
  d = findDecision(ds, "hello", kLowestMemory);
  EXPECT_EQ(d->runtime, "go");
  EXPECT_EQ(d->value, 12);
  EXPECT_EQ(d->unit, "MB");
  d = findDecision(ds, "cpu", kFastestWarm);
  EXPECT_EQ(d->runtime, "go");
  EXPECT_EQ(d->value, 80);
}

TEST(Decide, TiesGoToSmallerMemoryThenRuntimeName) {
  const std::vector<Cell> cells = {
      makeCell("python3.12", 512, "hello", {cold(20, 1, 21, 30, 25), warm(1, 1, 30, 1)}),
      makeCell("python3.12", 128, "hello", {cold(20, 1, 21, 30, 25), warm(1, 1, 30, 1)}),
      makeCell("nodejs22.x", 128, "hello", {cold(20, 1, 21, 30, 25), warm(1, 1, 30, 1)}),
  };
  const auto ds = decide(cells, Pricing{});
  ASSERT_EQ(ds.size(), 4u);
  for (const Decision& d : ds) {
    EXPECT_EQ(d.runtime, "nodejs22.x") << d.criterion;
    EXPECT_EQ(d.memory_mb, 128) << d.criterion;
  }
}

TEST(Decide, CellsWithoutDataAreSkipped) {
  const std::vector<Cell> cells = {
      // Only warm samples: no cold start data.
      makeCell("python3.12", 128, "json", {warm(5, 5, 40, 6)}),
      // Everything failed: no data at all, despite its tiny (failed) numbers.
      makeCell("go", 128, "json", {failed(true, "Runtime.ExitError", 0.1), failed(false, "X", 0.1)}),
      // No samples at all (runtime not available).
      makeCell("rust", 128, "json", {}),
      makeCell("rust", 128, "heavy-init", {}),
  };
  const auto ds = decide(cells, Pricing{});
  ASSERT_EQ(ds.size(), 3u);  // json: warm, cheapest, memory; heavy-init: nothing
  for (const Decision& d : ds) {
    EXPECT_EQ(d.workload, "json");
    EXPECT_EQ(d.runtime, "python3.12");
    EXPECT_NE(d.criterion, kFastestColdStart);
  }
}

AwsReference smallReference() {
  AwsReference ref;
  ref.source = "/tmp/last.json";
  ref.generated_at = "2026-08-22T14:00:43.227Z";
  AwsFigure py;
  py.id = "lambda-perf-python312-zip-128-x86_64";
  py.display = py.runtime = "python3.12";
  py.architecture = "x86_64";
  py.package = "zip";
  py.memory_mb = 128;
  py.init_ms = {84.7, 88.02, 81.83};
  py.init_ms_mean = 84.85;
  py.duration_ms_mean = 1.847;
  py.max_memory_mb = 36.9;
  AwsFigure dotnet = py;
  dotnet.id = "lambda-perf-dotnet8-zip-128-x86_64";
  dotnet.display = "dotnet8";
  dotnet.runtime = "";
  AwsFigure java = py;
  java.id = "lambda-perf-java21-zip-128-x86_64";
  java.display = java.runtime = "java21";
  ref.figures = {py, dotnet, java};
  return ref;
}

BenchResults sampleResults() {
  BenchResults r;
  r.meta.generated_at = "2026-11-26T20:01:02Z";
  r.meta.kindling_version = "0.6.0";
  r.meta.host = "box";
  r.meta.kernel = "6.1.0-18-amd64";
  r.meta.cpus = 2;
  r.meta.cpu_model = "AMD EPYC 7B13";
  r.meta.endpoint = "http://127.0.0.1:9000";
  r.meta.cold_per_cell = 2;
  r.meta.warm_per_cell = 3;
  r.meta.runtimes = {"python3.12", "rust"};
  r.meta.memory_mb = {128, 1769};
  r.meta.workloads = {"hello"};
  r.pricing = defaultPricing(Architecture::X86_64);
  r.cells.push_back(mixedCell());
  r.cells.push_back(makeCell("python3.12", 1769, "hello",
                             {cold(22.5, 0.8, 24, 32, 26), warm(0.7, 1, 32, 1.1)}));
  Cell rust = makeCell("rust", 128, "hello", {});
  rust.runtime_id = "provided.al2023";
  rust.notes.push_back("runtime not available on this host");
  r.cells.push_back(rust);
  r.cells.push_back(makeCell("rust", 1769, "hello",
                             {cold(4.1, 0.4, 5, 11, 6.2), warm(0.35, 1, 11, 0.7)}));
  r.compare = smallReference();
  return r;
}

TEST(BenchJson, DocumentFollowsTheContract) {
  const json j = toJson(sampleResults());
  EXPECT_EQ(j.at("schema"), "kindling.bench/1");
  EXPECT_EQ(j.at("meta").at("cpus"), 2);
  EXPECT_EQ(j.at("meta").at("runtimes"), json({"python3.12", "rust"}));
  EXPECT_EQ(j.at("pricing").at("architecture"), "x86_64");
  ASSERT_EQ(j.at("cells").size(), 4u);
  const json& c0 = j.at("cells")[0];
  EXPECT_EQ(c0.at("runtime"), "python3.12");
  EXPECT_EQ(c0.at("memory_mb"), 128);
  ASSERT_EQ(c0.at("samples").size(), 5u);
  EXPECT_EQ(c0.at("samples")[0].at("kind"), "cold");
  EXPECT_EQ(c0.at("samples")[0].at("init_ms"), 25.1);
  EXPECT_EQ(c0.at("samples")[0].at("error"), nullptr);
  EXPECT_EQ(c0.at("samples")[2].at("kind"), "warm");
  EXPECT_EQ(c0.at("samples")[2].at("init_ms"), nullptr);
  EXPECT_EQ(c0.at("samples")[4].at("error"), "Sandbox.Timedout");
  EXPECT_EQ(c0.at("stats").at("errors"), 2);
  EXPECT_EQ(c0.at("stats").at("max_memory_mb"), 33.0);
  EXPECT_EQ(c0.at("stats").at("warm_duration_ms").at("count"), 2);
  EXPECT_EQ(c0.at("notes"), json::array());
  EXPECT_EQ(j.at("cells")[2].at("notes")[0], "runtime not available on this host");
  EXPECT_EQ(j.at("cells")[2].at("stats").at("cold_init_ms").at("count"), 0);
  ASSERT_EQ(j.at("decisions").size(), 4u);
  EXPECT_EQ(j.at("decisions")[0].at("criterion"), "fastest cold start");
  EXPECT_EQ(j.at("decisions")[0].at("runtime"), "rust");
  EXPECT_EQ(j.at("decisions")[0].at("memory_mb"), 1769);
  EXPECT_EQ(j.at("decisions")[0].at("value"), 4.1);
  // compare keeps only figures mapped to a requested runtime (not dotnet8: no label; not java21:
  // not requested).
  ASSERT_EQ(j.at("compare").at("figures").size(), 1u);
  EXPECT_EQ(j.at("compare").at("figures")[0].at("runtime"), "python3.12");

  BenchResults no_compare = sampleResults();
  no_compare.compare.reset();
  EXPECT_TRUE(toJson(no_compare).at("compare").is_null());
}

TEST(BenchJson, RoundTripIsExactThroughText) {
  BenchResults original = sampleResults();
  original.compare = filterTo(*original.compare, original.meta.runtimes);
  const json first = toJson(original);
  auto parsed = benchResultsFromJson(json::parse(first.dump()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().context;
  EXPECT_EQ(toJson(*parsed), first);
  EXPECT_EQ(parsed->cells[0].samples[1].error, "Runtime.ExitError");
  EXPECT_FALSE(parsed->cells[0].samples[1].init_ms.has_value());
  EXPECT_TRUE(parsed->cells[0].samples[1].cold);
  ASSERT_TRUE(parsed->compare.has_value());
  EXPECT_EQ(parsed->compare->figures.size(), 1u);

  BenchResults no_compare = sampleResults();
  no_compare.compare.reset();
  auto back = benchResultsFromJson(toJson(no_compare));
  ASSERT_TRUE(back.has_value()) << back.error().context;
  EXPECT_FALSE(back->compare.has_value());
}

std::string errorOf(const json& document) {
  auto r = benchResultsFromJson(document);
  if (r.has_value()) return "(accepted)";
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  return r.error().context;
}

TEST(BenchJson, MalformedDocumentsGiveClearErrors) {
  const json good = toJson(sampleResults());
  EXPECT_EQ(errorOf(json::array()), "document: expected an object, got array");
  EXPECT_EQ(errorOf(json::object()), "schema: missing");

  json bad = good;
  bad["schema"] = "kindling.bench/2";
  EXPECT_EQ(errorOf(bad), "schema: expected \"kindling.bench/1\", got \"kindling.bench/2\"");
  bad = good;
  bad["cells"][1]["samples"][1]["duration_ms"] = "fast";
  EXPECT_EQ(errorOf(bad), "cells[1].samples[1].duration_ms: expected a number, got string");
  bad = good;
  bad["cells"][0]["samples"][0]["kind"] = "lukewarm";
  EXPECT_EQ(errorOf(bad), "cells[0].samples[0].kind: expected \"cold\" or \"warm\", got \"lukewarm\"");
  bad = good;
  bad["cells"][0]["samples"][0]["error"] = 42;
  EXPECT_EQ(errorOf(bad), "cells[0].samples[0].error: expected a string or null, got number");
  bad = good;
  bad["cells"][3]["memory_mb"] = 128.5;
  EXPECT_EQ(errorOf(bad), "cells[3].memory_mb: expected an integer, got 128.5");
  bad = good;
  bad["meta"]["memory_mb"][1] = "big";
  EXPECT_EQ(errorOf(bad), "meta.memory_mb[1]: expected an integer, got \"big\"");
  bad = good;
  bad["meta"].erase("host");
  EXPECT_EQ(errorOf(bad), "meta.host: missing");
  bad = good;
  bad["cells"][2]["notes"] = "none";
  EXPECT_EQ(errorOf(bad), "cells[2].notes: expected an array of strings, got string");
  bad = good;
  bad["compare"]["figures"][0]["init_ms"][1] = nullptr;
  EXPECT_EQ(errorOf(bad), "compare.figures[0].init_ms[1]: expected a number, got null");
  bad = good;
  bad["cells"] = json::object();
  EXPECT_EQ(errorOf(bad), "cells: expected an array, got object");

  // Derived fields are not read: wrong stats or decisions do not matter.
  json derived = good;
  derived["cells"][0]["stats"] = "whatever";
  derived.erase("decisions");
  auto r = benchResultsFromJson(derived);
  ASSERT_TRUE(r.has_value()) << r.error().context;
  EXPECT_EQ(toJson(*r), good);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(BenchCsv, OneRowPerSampleWithRfc4180Quoting) {
  BenchResults r = sampleResults();
  r.cells[0].samples[4].error = "Runtime.Error: bad \"x\", y";
  const std::string csv = toCsv(r);
  const auto rows = lines(csv);
  size_t samples = 0;
  for (const Cell& c : r.cells) samples += c.samples.size();
  ASSERT_EQ(rows.size(), 1 + samples);
  EXPECT_EQ(rows[0],
            "runtime,runtime_id,workload,memory_mb,kind,index,init_ms,duration_ms,billed_ms,"
            "max_memory_mb,client_ms,error");
  EXPECT_EQ(rows[1], "python3.12,python3.12,hello,128,cold,0,25.1,1.2,27,31,30.4,");
  EXPECT_EQ(rows[2], "python3.12,python3.12,hello,128,cold,1,,0,0,128,50,Runtime.ExitError");
  EXPECT_EQ(rows[3], "python3.12,python3.12,hello,128,warm,2,,0.9,1,31,1.3,");
  EXPECT_EQ(rows[5], "python3.12,python3.12,hello,128,warm,4,,0,0,0,3001.2,\"Runtime.Error: bad \"\"x\"\", y\"");
  // The index restarts in each cell; rust/128 has no samples, so rust/1769 follows python/1769.
  EXPECT_EQ(rows[6], "python3.12,python3.12,hello,1769,cold,0,22.5,0.8,24,32,26,");
  EXPECT_EQ(rows[8], "rust,provided.al2023,hello,1769,cold,0,4.1,0.4,5,11,6.2,");
  EXPECT_EQ(csv.back(), '\n');

  // A multi-line error stays one record (quoted), so the physical line count grows by one.
  r.cells[0].samples[4].error = "line one\nline two";
  EXPECT_NE(toCsv(r).find(",\"line one\nline two\"\n"), std::string::npos);
}

TEST(BenchTable, ShowsEveryCellDashesAndDecisions) {
  const std::string table = renderTable(sampleResults());
  const auto rows = lines(table);
  // Every cell's row names its runtime and memory.
  int python128 = -1, rust128 = -1;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].rfind("python3.12", 0) == 0 && rows[i].find(" 128 ") != std::string::npos) python128 = i;
    if (rows[i].rfind("rust", 0) == 0 && rows[i].find(" 128 ") != std::string::npos) rust128 = i;
  }
  ASSERT_GE(python128, 0) << table;
  ASSERT_GE(rust128, 0) << table;
  EXPECT_NE(table.find("1769"), std::string::npos);
  // rust/128 has no samples: dashes for every statistic, 0 errors.
  std::istringstream fields(rows[rust128]);
  std::vector<std::string> words;
  for (std::string w; fields >> w;) words.push_back(w);
  EXPECT_EQ(words, (std::vector<std::string>{"rust", "128", "hello", "-", "-", "-", "-", "-", "0"}));
  // python/128: cold p50/p90/p99 (min-max), 2 errors.
  EXPECT_NE(rows[python128].find("25.1/25.1/25.1 (25.1-25.1)"), std::string::npos) << rows[python128];
  EXPECT_NE(rows[python128].find("0.2146"), std::string::npos) << rows[python128];
  EXPECT_EQ(rows[python128].back(), '2');
  EXPECT_NE(table.find("fastest cold start"), std::string::npos);
  EXPECT_NE(table.find("lowest memory"), std::string::npos);
  EXPECT_NE(table.find("runtime not available on this host"), std::string::npos);
  EXPECT_NE(table.find("AWS reference"), std::string::npos);
  EXPECT_EQ(table.find("dotnet8"), std::string::npos);
  for (const std::string& row : rows) {
    EXPECT_LE(row.size(), 130u) << row;
    for (char ch : row) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << row;
  }
}

TEST(HostInfo, IsoUtcSeconds) {
  EXPECT_EQ(isoUtcSeconds(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(isoUtcSeconds(1586545592), "2020-04-10T19:06:32Z");
  const HostInfo info = readHostInfo();
  EXPECT_GT(info.cpus, 0);
  EXPECT_EQ(info.generated_at.size(), 20u);
}

}  // namespace
}  // namespace kindling::lab
