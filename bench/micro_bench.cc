// kindling-micro-bench: Google Benchmark figures for pieces on the invoke hot path, so a
// regression in one of them shows up without the noise of processes and sockets.
//   formatReportLine      once per invoke (REPORT line into the log stream)
//   Histogram::observe    once or twice per invoke (duration metrics), also contended
//   parseFunctionRef      once per API request naming a function
//   errorEnvelope         every Runtime API error answer
//   json::accept          once per invoke (Invoke payload validation), 1 KB and 1 MiB payloads
//   processTreePeakRss    once per invoke (REPORT "Max Memory Used", read from /proc)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "api/function_name.h"
#include "observe/metrics.h"
#include "observe/report.h"
#include "runtime_api/server.h"
#include "sys/process.h"

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

// An event of about `target` bytes (never more) with the usual mix: nested objects, strings
// with escapes, numbers, an array of records.
std::string eventPayload(size_t target) {
  nlohmann::json event = {
      {"version", "2.0"},
      {"routeKey", "POST /orders"},
      {"rawPath", "/orders"},
      {"headers", {{"content-type", "application/json"}, {"user-agent", "curl/8.4.0"}}},
      {"requestContext", {{"accountId", "000000000000"}, {"requestId", "c6af9ac6-7b61-11e6"},
                          {"timeEpoch", 1583348638390}, {"http", {{"method", "POST"}}}}},
      {"isBase64Encoded", false},
      {"items", nlohmann::json::array()},
  };
  size_t size = event.dump().size();
  auto& items = event["items"];
  for (int i = 0;; ++i) {
    nlohmann::json item = {{"sku", "A-" + std::to_string(1000 + i)},
                           {"qty", i % 7 + 1},
                           {"price", 9.5 + i},
                           {"note", "line \"" + std::to_string(i) + "\"\n"}};
    const size_t item_size = item.dump().size() + (i ? 1 : 0);  // + the comma
    if (size + item_size > target) break;
    size += item_size;
    items.push_back(std::move(item));
  }
  return event.dump();
}

void BM_JsonAccept(benchmark::State& state) {
  const std::string payload = eventPayload(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    bool ok = nlohmann::json::accept(payload);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  state.SetLabel(std::to_string(payload.size()) + " bytes");
}
BENCHMARK(BM_JsonAccept)->ArgName("bytes")->Arg(1024)->Arg(1 << 20);

// The engine reads the runtime's peak RSS after every invoke. arg 0: a runtime without child
// processes (fast path: two /proc reads); arg 1: with one child (the whole of /proc is scanned).
void BM_ProcessTreePeakRss(benchmark::State& state) {
  pid_t child = -1;
  if (state.range(0) != 0) {
    child = ::fork();
    if (child == 0) {
      ::pause();
      ::_exit(0);
    }
    if (child < 0) {
      state.SkipWithError("fork failed");
      return;
    }
  }
  const pid_t self = ::getpid();
  for (auto _ : state) {
    uint64_t bytes = sys::processTreePeakRss(self);
    benchmark::DoNotOptimize(bytes);
  }
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
}
BENCHMARK(BM_ProcessTreePeakRss)->ArgName("children")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
