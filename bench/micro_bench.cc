// kindling-micro-bench: Google Benchmark figures for pieces on the invoke hot path, so a
// regression in one of them shows up without the noise of processes and sockets.
//   formatReportLine      once per invoke (REPORT line into the log stream)
//   Histogram::observe    once or twice per invoke (duration metrics), also contended
//   parseFunctionRef      once per API request naming a function
//   errorEnvelope         every Runtime API error answer
//   json::accept          once per invoke (Invoke payload validation), 1 KB payload
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "api/function_name.h"
#include "observe/metrics.h"
#include "observe/report.h"
#include "runtime_api/server.h"

namespace {

using namespace kindling;

void BM_FormatReportLine(benchmark::State& state) {
  const std::string id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
  observe::ReportLine line;
  line.request_id = id;
  line.duration_ms = 12.96;
  line.memory_size_mb = 1769;
  line.max_memory_used_mb = 48;
  if (state.range(0) != 0) line.init_duration_ms = 117.86;
  for (auto _ : state) {
    std::string text = observe::formatReportLine(line);
    benchmark::DoNotOptimize(text.data());
  }
}
BENCHMARK(BM_FormatReportLine)->ArgName("init")->Arg(0)->Arg(1);

void BM_HistogramObserve(benchmark::State& state) {
  static observe::Histogram histogram;  // shared by all threads of the run
  double value = 0.00042 + 0.0001 * state.thread_index();
  for (auto _ : state) {
    histogram.observe(value);
    value += 1e-7;
    if (value > 2.0) value = 0.00042;
  }
  benchmark::DoNotOptimize(histogram.snapshot().count);
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

void BM_ParseFunctionRef(benchmark::State& state) {
  const std::string inputs[] = {"my-function", "my-function:$LATEST",
                                "arn:aws:lambda:us-east-1:000000000000:function:my-function:prod"};
  const std::string& raw = inputs[state.range(0)];
  for (auto _ : state) {
    auto ref = api::parseFunctionRef(raw);
    benchmark::DoNotOptimize(ref);
  }
  state.SetLabel(raw);
}
BENCHMARK(BM_ParseFunctionRef)->ArgName("form")->Arg(0)->Arg(1)->Arg(2);

void BM_ErrorEnvelope(benchmark::State& state) {
  for (auto _ : state) {
    std::string body = runtime_api::errorEnvelope("InvalidStateTransition",
                                                  "State transition from Ready to InvocationErrorResponse failed for runtime. Error: State transition is not allowed");
    benchmark::DoNotOptimize(body.data());
  }
}
BENCHMARK(BM_ErrorEnvelope);

// A ~1 KB event with the usual mix: nested objects, strings with escapes, numbers, arrays.
std::string oneKilobytePayload() {
  nlohmann::json event = {
      {"version", "2.0"},
      {"routeKey", "POST /orders"},
      {"rawPath", "/orders"},
      {"headers", {{"content-type", "application/json"}, {"user-agent", "curl/8.4.0"}}},
      {"requestContext", {{"accountId", "000000000000"}, {"requestId", "c6af9ac6-7b61-11e6"},
                          {"timeEpoch", 1583348638390}, {"http", {{"method", "POST"}}}}},
      {"isBase64Encoded", false},
  };
  std::string body = "{\"items\":[";
  for (int i = 0; body.size() < 520; ++i) {
    body += (i ? "," : "") + std::string("{\"sku\":\"A-") + std::to_string(1000 + i) +
            "\",\"qty\":" + std::to_string(i % 7 + 1) + ",\"price\":" + std::to_string(9.5 + i) +
            ",\"note\":\"line \\\"" + std::to_string(i) + "\\\"\\n\"}";
  }
  body += "]}";
  event["body"] = body;
  return event.dump();
}

void BM_JsonAccept1K(benchmark::State& state) {
  const std::string payload = oneKilobytePayload();
  for (auto _ : state) {
    bool ok = nlohmann::json::accept(payload);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  state.SetLabel(std::to_string(payload.size()) + " bytes");
}
BENCHMARK(BM_JsonAccept1K);

}  // namespace

BENCHMARK_MAIN();
