// Hand-written kindling.bench/1 and kindling.tune/1 documents for the report tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kindling::report::testing {

using Json = nlohmann::json;

inline Json stat(std::vector<double> v) {
  if (v.empty())
    return {{"count", 0}, {"min", 0}, {"p50", 0}, {"p90", 0}, {"p99", 0}, {"max", 0}, {"mean", 0}};
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    size_t r = static_cast<size_t>(std::ceil(q / 100 * static_cast<double>(v.size())));
    return v[r == 0 ? 0 : r - 1];
  };
  double sum = 0;
  for (double x : v) sum += x;
  return {{"count", v.size()}, {"min", v.front()}, {"p50", rank(50)}, {"p90", rank(90)},
          {"p99", rank(99)},   {"max", v.back()},  {"mean", sum / static_cast<double>(v.size())}};
}

// One cell: `cold` Init Durations, `warm` Durations, plus one failed warm sample if `error`.
inline Json cell(const std::string& runtime, const std::string& workload, int memory,
                 std::vector<double> cold, std::vector<double> warm, const char* error = nullptr) {
  Json samples = Json::array();
  for (double c : cold)
    samples.push_back({{"kind", "cold"}, {"init_ms", c}, {"duration_ms", 1.5},
                       {"billed_ms", 2 + c}, {"max_memory_mb", 31}, {"client_ms", c + 4},
                       {"error", nullptr}});
  for (double w : warm)
    samples.push_back({{"kind", "warm"}, {"init_ms", nullptr}, {"duration_ms", w},
                       {"billed_ms", std::ceil(w)}, {"max_memory_mb", 31},
                       {"client_ms", w + 0.4}, {"error", nullptr}});
  if (error != nullptr)
    samples.push_back({{"kind", "warm"}, {"init_ms", nullptr}, {"duration_ms", 0},
                       {"billed_ms", 0}, {"max_memory_mb", 0}, {"client_ms", 3001.2},
                       {"error", error}});
  std::vector<double> client;
  for (double w : warm) client.push_back(w + 0.4);
  return {{"runtime", runtime},
          {"runtime_id", runtime},
          {"workload", workload},
          {"memory_mb", memory},
          {"samples", samples},
          {"stats",
           {{"cold_init_ms", stat(cold)},
            {"cold_client_ms", stat(cold)},
            {"warm_duration_ms", stat(warm)},
            {"warm_client_ms", stat(client)},
            {"warm_billed_ms", stat(warm)},
            {"max_memory_mb", cold.empty() && warm.empty() ? 0 : 31},
            {"cost_per_million_usd", warm.empty() ? 0.0 : 0.2021},
            {"errors", error != nullptr ? 1 : 0}}},
          {"notes", Json::array()}};
}

// 2 runtimes x 2 memory sizes x 2 workloads; one failed sample; AWS figures for 3 pairs.
inline Json benchDoc(const std::string& first_runtime = "python3.12",
                     const char* error = "Sandbox.Timedout") {
  Json cells = Json::array();
  for (const std::string& rt : {first_runtime, std::string("nodejs22.x")})
    for (int mb : {128, 1024})
      for (const char* wl : {"hello", "cpu"})
        cells.push_back(
            cell(rt, wl, mb, {3.0 + mb / 100.0, 40, 900}, {0.9, 1.0, 1.2, 7},
                 rt == first_runtime && mb == 128 && std::string(wl) == "cpu" ? error : nullptr));
  Json figures = Json::array();
  figures.push_back({{"id", "a"}, {"display", "python3.12"}, {"runtime", first_runtime},
                     {"memory_mb", 128}, {"architecture", "x86_64"}, {"package", "zip"},
                     {"init_ms", {84.7, 88.02}}, {"init_ms_mean", 85.226},
                     {"duration_ms_mean", 1.847}, {"max_memory_mb", 36.9}});
  figures.push_back({{"id", "b"}, {"runtime", first_runtime}, {"memory_mb", 1024},
                     {"init_ms_mean", 80.0}});
  figures.push_back({{"id", "c"}, {"runtime", "nodejs22.x"}, {"memory_mb", 128},
                     {"init_ms_mean", 140.0}});
  figures.push_back({{"id", "d"}, {"runtime", nullptr}, {"memory_mb", 128},
                     {"init_ms_mean", 200.0}});
  return {{"schema", "kindling.bench/1"},
          {"meta",
           {{"generated_at", "2026-11-26T20:01:02Z"}, {"kindling_version", "0.6.0"},
            {"host", "bench-host"}, {"kernel", "6.1.0"}, {"cpus", 2}, {"cpu_model", "EPYC"},
            {"endpoint", "http://127.0.0.1:9000"}, {"cold_per_cell", 3}, {"warm_per_cell", 4},
            {"runtimes", {first_runtime, "nodejs22.x"}}, {"memory_mb", {128, 1024}},
            {"workloads", {"hello", "cpu"}}}},
          {"pricing",
           {{"architecture", "x86_64"}, {"gb_second_usd", 0.0000166667},
            {"request_usd", 0.0000002}}},
          {"cells", cells},
          {"decisions",
           {{{"workload", "hello"}, {"criterion", "fastest cold start"},
             {"runtime", first_runtime}, {"memory_mb", 128}, {"value", 40}, {"unit", "ms"}},
            {{"workload", "hello"}, {"criterion", "cheapest per 1M invocations"},
             {"runtime", "nodejs22.x"}, {"memory_mb", 128}, {"value", 0.2021}, {"unit", "USD"}},
            {{"workload", "cpu"}, {"criterion", "lowest memory"}, {"runtime", "nodejs22.x"},
             {"memory_mb", 128}, {"value", 31}, {"unit", "MB"}}}},
          {"compare",
           {{"source", "https://example.invalid/last.json"},
            {"generated_at", "2026-08-22T14:00:43.227Z"},
            {"figures", figures}}}};
}

inline Json tuneDoc() {
  Json points = Json::array();
  for (int mb : {128, 256, 512, 1024}) {
    Json samples = Json::array();
    for (int i = 0; i < 3; ++i)
      samples.push_back({{"kind", i == 0 ? "cold" : "warm"},
                         {"init_ms", i == 0 ? Json(120.0) : Json(nullptr)},
                         {"duration_ms", 30000.0 / mb}, {"billed_ms", 30000 / mb},
                         {"max_memory_mb", 50}, {"client_ms", 30000.0 / mb + 1},
                         {"error", mb == 1024 ? Json("Sandbox.Timedout") : Json(nullptr)}});
    points.push_back({{"memory_mb", mb}, {"samples", samples},
                      {"average_duration_ms", 30000.0 / mb}, {"average_billed_ms", 30000 / mb},
                      {"average_cost_usd", 0.0000002 + mb * 1e-10},
                      {"errors", mb == 1024 ? 3 : 0}});
  }
  return {{"schema", "kindling.tune/1"},
          {"meta",
           {{"generated_at", "2026-11-26T21:00:00Z"}, {"function", "my-fn"},
            {"payload", "{}"}, {"invocations", 3}, {"discard_top_bottom", 0.2},
            {"original_memory_mb", 128}, {"host", "h"}, {"cpus", 2}}},
          {"pricing", {{"architecture", "x86_64"}}},
          {"strategy", "cost"},
          {"weight", 0.5},
          {"points", points},
          {"recommendation",
           {{"memory_mb", 256}, {"average_duration_ms", 117.2}, {"average_cost_usd", 2.3e-7}}},
          {"applied", false}};
}

}  // namespace kindling::report::testing
