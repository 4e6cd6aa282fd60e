// kindling-bench: the end-to-end benchmark of a running kindling daemon, over the AWS Lambda API
// only (CreateFunction, Invoke, DeleteFunction), so it measures what a real client sees.
//
// Phases (each prints one table):
//  1. warm:  a no-op provided.al2023 function (the test payload's `noop` handler); for each
//            client count C, C threads each own one keep-alive connection, warm up (which also
//            starts the C environments), then together run a fixed number of invokes.
//            Client-observed latency percentiles and invokes/s.
//  2. tail:  one client, X-Amz-Log-Type: Tail; client latency minus the REPORT line's Duration
//            is the latency the platform adds around the handler (HTTP, scheduling, Runtime API,
//            log capture).
//  3. cold:  per runtime, N samples; every sample is a fresh function (so its one invoke must
//            start an environment): end-to-end cold latency and the REPORT Init Duration.
//  4. isolation (with --baseline-endpoint, a second daemon started with KINDLING_SANDBOX=process):
//            the phase-3 measurement against both daemons, samples interleaved (baseline,
//            sandboxed, baseline, ...) so background load on a shared host hits both alike; the
//            difference of the two is what the sandbox (namespaces, root fs, cgroup, seccomp,
//            uid) adds to a cold start.
//  5. cpu:   the test payload's `cpu:<n>` handler (a single-threaded loop) at several
//            MemorySizes, 1 cold + W warm invokes each; the REPORT Duration median against the
//            1,769 MB one shows whether the CPU quota follows memory as on Lambda. n is
//            calibrated so the 1,769 MB run takes --cpu-target-ms unless --cpu-n is given.
//  6. event: asynchronous invokes (X-Amz-Invocation-Type: Event). For each client count C, a
//            fresh `noop` function whose OnSuccess destination is a local SQS queue of its own
//            (and OnFailure another, with no retries, so a failed event shows at once instead of
//            after a minute's retry delay); C keep-alive clients together send N events: the
//            202 latency (the daemon answers once the event is committed to SQLite) and
//            accepted/s. Then the queue list is polled every ~5 ms until all accepted events left
//            a message: delivery throughput (N / first send to last message seen) and the drain
//            time after the last 202. Cold starts of the delivery environments are included.
// The client runs on the same host as the daemon and shares its cores: figures are for this
// machine, not absolute.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/bench_client.h"
#include "bench/bench_util.h"
#include "bench/stats.h"
#include "common/strings.h"
#include "store/zip.h"

namespace kindling::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The MemorySize that buys one full vCPU (Lambda's figure, used by the engine's CPU quota).
constexpr int kFullCoreMemoryMb = 1769;

struct Options {
  std::string endpoint;
  std::string payload_zip;  // the test payload binary (zipped as `bootstrap`) or a ready zip
  std::string examples_dir = "examples";
  std::string built_examples_dir;  // packages of compiled examples (java/hello.zip, ...)
  std::vector<int> clients = {1, 8};
  size_t invokes = 20000;  // measured invokes per warm phase (all clients together)
  size_t warmup = 1000;    // warm-up invokes per warm phase (all clients together)
  size_t tail_invokes = 2000;
  size_t cold_samples = 10;
  int memory_mb = 1769;
  std::vector<std::string> runtimes = {"provided.al2023", "python3.11", "python3.12",
                                       "python3.13",      "nodejs20.x", "nodejs22.x",
                                       "nodejs24.x",      "ruby3.1",    "java17",
                                       "java25"};
  std::string json_out;
  // phase 4
  std::string baseline_endpoint;  // daemon with KINDLING_SANDBOX=process; empty = skip
  size_t isolation_samples = 20;
  std::vector<std::string> isolation_runtimes = {"provided.al2023", "python3.11"};
  // phase 5
  std::vector<int> cpu_memories = {128, 512, 1769, 3008};
  size_t cpu_warm = 5;
  uint64_t cpu_n = 0;  // 0 = calibrate
  double cpu_target_ms = 150;
  // phase 6
  size_t event_invokes = 0;  // Event invokes per row (all clients together); 0 = skip
  // MemorySize of the Event functions: small, so the daemon's default 16 deliveries in flight
  // fit its memory budget (at 1,769 MB a 24 GB host holds 10 environments and the rest of the
  // deliveries are throttled and backed off for seconds).
  int event_memory_mb = 128;
  std::vector<int> event_clients = {1, 8};
  double event_wait_s = 60;  // longest wait for the messages after the last 202
};

// ---- phase 1: warm latency and throughput ----

struct WarmResult {
  int clients = 0;
  size_t errors = 0;
  std::string first_error;
  Summary latency_us;
  double wall_s = 0;
  double invokes_per_s = 0;
};

struct ClientOutcome {
  std::vector<double> latency_us;
  size_t errors = 0;
  std::string first_error;

  void fail(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }
};

// One invoke; true when it succeeded (HTTP 200 without X-Amz-Function-Error).
bool invokeOnce(Connection& conn, const std::string& request, Reply& reply, ClientOutcome& out) {
  if (auto st = conn.roundTrip(request, reply); !st) {
    out.fail(st.error().message());
    return false;
  }
  if (reply.status != 200 || !reply.function_error.empty()) {
    out.fail("HTTP " + std::to_string(reply.status) +
             (reply.function_error.empty() ? "" : " X-Amz-Function-Error " + reply.function_error) +
             ": " + reply.body.substr(0, 200));
    return false;
  }
  return true;
}

WarmResult runWarm(const Endpoint& endpoint, const std::string& function, int clients,
                   size_t invokes, size_t warmup) {
  const std::string request = invokeRequestBytes(endpoint, function, "{}", false);
  const size_t per_client = (invokes + clients - 1) / clients;
  const size_t warm_per_client = (warmup + clients - 1) / clients;
  std::vector<ClientOutcome> outcomes(clients);
  std::latch ready(clients + 1);
  std::latch go(1);
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ClientOutcome& out = outcomes[c];
      out.latency_us.reserve(per_client);
      auto conn = Connection::open(endpoint);
      if (!conn) {
        out.fail(conn.error().message());
        ready.count_down();
        return;
      }
      Reply reply;
      for (size_t i = 0; i < warm_per_client; ++i) {
        if (!invokeOnce(**conn, request, reply, out) && out.errors > 10) break;
      }
      const bool broken = out.errors > 10;  // errors counts warm-up failures too
      ready.count_down();
      go.wait();
      if (broken) return;  // the cause is in first_error
      for (size_t i = 0; i < per_client; ++i) {
        const auto t0 = SteadyClock::now();
        const bool ok = invokeOnce(**conn, request, reply, out);
        const auto t1 = SteadyClock::now();
        if (ok) out.latency_us.push_back(elapsedUs(t0, t1));
        if (out.errors > 100) break;
      }
    });
  }
  ready.arrive_and_wait();
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  const auto end = SteadyClock::now();

  WarmResult result;
  result.clients = clients;
  std::vector<double> all;
  all.reserve(per_client * clients);
  for (auto& out : outcomes) {
    all.insert(all.end(), out.latency_us.begin(), out.latency_us.end());
    result.errors += out.errors;
    if (result.first_error.empty()) result.first_error = out.first_error;
  }
  result.wall_s = elapsedUs(start, end) / 1e6;
  result.invokes_per_s = result.wall_s > 0 ? static_cast<double>(all.size()) / result.wall_s : 0;
  result.latency_us = summarize(all);
  return result;
}

// ---- phase 2: platform-added latency (client latency - REPORT Duration) ----

struct TailResult {
  Summary client_us;
  Summary report_duration_us;
  Summary overhead_us;
  size_t errors = 0;
  size_t missing_report = 0;
  std::string first_error;
};

TailResult runTail(const Endpoint& endpoint, const std::string& function, size_t invokes) {
  TailResult result;
  const std::string request = invokeRequestBytes(endpoint, function, "{}", true);
  auto conn = Connection::open(endpoint);
  if (!conn) {
    result.errors = 1;
    result.first_error = conn.error().message();
    return result;
  }
  std::vector<double> client, duration, overhead;
  client.reserve(invokes);
  duration.reserve(invokes);
  overhead.reserve(invokes);
  ClientOutcome out;
  Reply reply;
  for (size_t i = 0; i < invokes && out.errors <= 100; ++i) {
    const auto t0 = SteadyClock::now();
    const bool ok = invokeOnce(**conn, request, reply, out);
    const auto t1 = SteadyClock::now();
    if (!ok) continue;
    const double us = elapsedUs(t0, t1);
    client.push_back(us);
    auto log = base64Decode(reply.log_result);
    auto report = log ? parseReportLine(*log) : std::nullopt;
    if (!report) {
      ++result.missing_report;
      continue;
    }
    duration.push_back(report->duration_ms * 1000);
    overhead.push_back(us - report->duration_ms * 1000);
  }
  result.errors = out.errors;
  result.first_error = out.first_error;
  result.client_us = summarize(client);
  result.report_duration_us = summarize(duration);
  result.overhead_us = summarize(overhead);
  return result;
}

// ---- phase 3: cold starts ----

// Raw samples of the cold starts of one runtime against one daemon (ms).
struct ColdSamples {
  std::vector<double> e2e;
  std::vector<double> init;
  std::vector<double> duration;
  std::vector<double> overhead;  // e2e - init - duration: spawn, HTTP, scheduling
  size_t missing_init = 0;
  ClientOutcome out;
};

struct ColdResult {
  std::string runtime;
  std::string skipped;  // reason, when the runtime could not be benchmarked
  size_t errors = 0;
  std::string first_error;
  size_t missing_init = 0;
  Summary e2e_ms;
  Summary init_ms;
  Summary duration_ms;
  Summary overhead_ms;
};

ColdResult summarizeCold(const std::string& runtime, ColdSamples& samples) {
  ColdResult result;
  result.runtime = runtime;
  result.errors = samples.out.errors;
  result.first_error = samples.out.first_error;
  result.missing_init = samples.missing_init;
  result.e2e_ms = summarize(samples.e2e);
  result.init_ms = summarize(samples.init);
  result.duration_ms = summarize(samples.duration);
  result.overhead_ms = summarize(samples.overhead);
  return result;
}

struct RuntimeSource {
  std::string handler;
  fs::path code;
  std::string payload;
};

Result<RuntimeSource> sourceFor(const std::string& runtime, const Options& opts) {
  const fs::path examples = opts.examples_dir;
  if (runtime.rfind("provided", 0) == 0) return RuntimeSource{"noop", opts.payload_zip, "{}"};
  if (runtime.rfind("python", 0) == 0) {
    return RuntimeSource{"app.handler", examples / "python" / "hello", R"({"name":"bench"})"};
  }
  if (runtime.rfind("nodejs", 0) == 0) {
    return RuntimeSource{"index.handler", examples / "node" / "hello", R"({"name":"bench"})"};
  }
  if (runtime.rfind("ruby", 0) == 0) {
    return RuntimeSource{"function.handler", examples / "ruby" / "hello", R"({"name":"bench"})"};
  }
  if (runtime.rfind("java", 0) == 0) {
    const fs::path zip = fs::path(opts.built_examples_dir) / "java" / "hello.zip";
    std::error_code ec;
    if (opts.built_examples_dir.empty() || !fs::is_regular_file(zip, ec)) {
      return makeError(ErrorCode::NotFound, "no built Java example (" + zip.string() +
                                                "; run examples/java/build.sh and pass "
                                                "--built-examples-dir)");
    }
    return RuntimeSource{"example.Hello", zip, R"({"name":"bench"})"};
  }
  return makeError(ErrorCode::InvalidArgument, "no benchmark function for runtime " + runtime);
}

// A runtime's cold-start benchmark function, packaged once and deployed per sample.
struct ColdFunction {
  std::string runtime;
  std::string tag;  // the runtime with every non-alphanumeric as '-', for function names
  RuntimeSource source;
  std::string zip_base64;
};

Result<ColdFunction> prepareCold(const std::string& runtime, const Options& opts) {
  auto source = sourceFor(runtime, opts);
  if (!source) return tl::unexpected(std::move(source.error()));
  auto zip = packageBase64(source->code);
  if (!zip) return tl::unexpected(std::move(zip.error()));
  ColdFunction fn{runtime, {}, std::move(*source), std::move(*zip)};
  for (char ch : runtime) fn.tag += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
  return fn;
}

// One cold start: creates the fresh function `name`, invokes it once over a new connection
// (as a new client would), deletes it, and adds the figures to `samples`. Returns false only
// when the daemon refused the runtime (the reason in `refused`): the caller skips the runtime.
bool coldSample(const Endpoint& endpoint, Connection& mgmt, const ColdFunction& fn,
                const std::string& name, int memory_mb, ColdSamples& samples,
                std::string& refused) {
  FunctionSpec spec;
  spec.name = name;
  spec.runtime = fn.runtime;
  spec.handler = fn.source.handler;
  spec.memory_mb = memory_mb;
  spec.timeout_s = 30;
  spec.zip_base64 = fn.zip_base64;
  if (auto st = createFunction(mgmt, endpoint, spec); !st) {
    if (st.error().code == ErrorCode::InvalidRuntime) {
      refused = st.error().message();
      return false;
    }
    samples.out.fail(st.error().message());
    return true;
  }
  const std::string request = invokeRequestBytes(endpoint, spec.name, fn.source.payload, true);
  auto conn = Connection::open(endpoint);
  if (!conn) {
    samples.out.fail(conn.error().message());
  } else {
    Reply reply;
    const auto t0 = SteadyClock::now();
    const bool ok = invokeOnce(**conn, request, reply, samples.out);
    const double ms = elapsedUs(t0, SteadyClock::now()) / 1000;
    if (ok) {
      samples.e2e.push_back(ms);
      auto log = base64Decode(reply.log_result);
      auto report = log ? parseReportLine(*log) : std::nullopt;
      if (report && report->init_duration_ms) {
        samples.init.push_back(*report->init_duration_ms);
        samples.duration.push_back(report->duration_ms);
        samples.overhead.push_back(ms - *report->init_duration_ms - report->duration_ms);
      } else {
        ++samples.missing_init;
      }
    }
  }
  if (auto st = deleteFunction(mgmt, endpoint, spec.name); !st) {
    samples.out.fail(st.error().message());
  }
  return true;
}

ColdResult runCold(const Endpoint& endpoint, Connection& mgmt, const std::string& runtime,
                   const Options& opts, const std::string& run_id) {
  auto fn = prepareCold(runtime, opts);
  if (!fn) {
    ColdResult skipped;
    skipped.runtime = runtime;
    skipped.skipped = fn.error().message();
    return skipped;
  }
  ColdSamples samples;
  std::string refused;
  for (size_t i = 0; i < opts.cold_samples && samples.out.errors <= 3; ++i) {
    const std::string name = "kdb-cold-" + fn->tag + "-" + run_id + "-" + std::to_string(i);
    if (!coldSample(endpoint, mgmt, *fn, name, opts.memory_mb, samples, refused)) break;
  }
  ColdResult result = summarizeCold(runtime, samples);
  result.skipped = std::move(refused);
  return result;
}

// ---- phase 4: what isolation adds to a cold start ----

struct IsolationResult {
  std::string runtime;
  std::string skipped;
  ColdResult baseline;   // the KINDLING_SANDBOX=process daemon
  ColdResult sandboxed;  // the default daemon
};

IsolationResult runIsolation(const Endpoint& sandboxed, Connection& sandboxed_mgmt,
                             const Endpoint& baseline, Connection& baseline_mgmt,
                             const std::string& runtime, const Options& opts,
                             const std::string& run_id) {
  IsolationResult result;
  result.runtime = runtime;
  auto fn = prepareCold(runtime, opts);
  if (!fn) {
    result.skipped = fn.error().message();
    return result;
  }
  ColdSamples base_samples;
  ColdSamples box_samples;
  std::string refused;
  for (size_t i = 0; i < opts.isolation_samples; ++i) {
    if (base_samples.out.errors > 3 || box_samples.out.errors > 3) break;
    const std::string suffix = fn->tag + "-" + run_id + "-" + std::to_string(i);
    // Alternate which daemon goes first, so neither always follows the other's teardown.
    for (int k = 0; k < 2; ++k) {
      const bool base_turn = (i % 2 == 0) == (k == 0);
      const bool ok = base_turn ? coldSample(baseline, baseline_mgmt, *fn, "kdb-iso-p-" + suffix,
                                             opts.memory_mb, base_samples, refused)
                                : coldSample(sandboxed, sandboxed_mgmt, *fn,
                                             "kdb-iso-s-" + suffix, opts.memory_mb, box_samples,
                                             refused);
      if (!ok) {
        result.skipped = (base_turn ? "process daemon: " : "sandboxed daemon: ") + refused;
        return result;
      }
    }
  }
  result.baseline = summarizeCold(runtime, base_samples);
  result.sandboxed = summarizeCold(runtime, box_samples);
  return result;
}

// ---- phase 5: CPU share follows memory ----

// The CPU quota the engine gives a function (docs/design.md): MemorySize x 100,000 / 1,769 us
// per 100,000 us period, capped at the host's cores. In cores.
double quotaCores(int memory_mb, unsigned cores) {
  return std::min(static_cast<double>(memory_mb) / kFullCoreMemoryMb, static_cast<double>(cores));
}

struct CpuRow {
  int memory_mb = 0;
  double quota_cores = 0;
  std::optional<double> cold_duration_ms;  // the first (cold) invoke's REPORT Duration
  Summary warm_duration_ms;
  size_t errors = 0;
  std::string first_error;
};

struct CpuResult {
  uint64_t n = 0;
  std::optional<double> calibration_ms;  // Duration of cpu:<calibration n> at 1,769 MB
  uint64_t calibration_n = 0;
  std::string error;  // why the phase could not run (calibration failure)
  std::vector<CpuRow> rows;
};

// Invokes with Tail and returns the REPORT figures; nullopt (recorded in `out`) on failure.
std::optional<ReportFigures> invokeForReport(Connection& conn, const std::string& request,
                                             Reply& reply, ClientOutcome& out) {
  if (!invokeOnce(conn, request, reply, out)) return std::nullopt;
  auto log = base64Decode(reply.log_result);
  auto report = log ? parseReportLine(*log) : std::nullopt;
  if (!report) out.fail("reply without a REPORT line");
  return report;
}

// Deploys cpu:<n> at `memory_mb`, invokes it once cold and `warm` times warm, deletes it.
CpuRow runCpuSize(const Endpoint& endpoint, Connection& mgmt, const std::string& zip_base64,
                  const std::string& name, uint64_t n, int memory_mb, size_t warm,
                  unsigned cores) {
  CpuRow row;
  row.memory_mb = memory_mb;
  row.quota_cores = quotaCores(memory_mb, cores);
  ClientOutcome out;
  FunctionSpec spec;
  spec.name = name;
  spec.runtime = "provided.al2023";
  spec.handler = "cpu:" + std::to_string(n);
  spec.memory_mb = memory_mb;
  spec.timeout_s = 120;
  spec.zip_base64 = zip_base64;
  if (auto st = createFunction(mgmt, endpoint, spec); !st) {
    row.errors = 1;
    row.first_error = st.error().message();
    return row;
  }
  const std::string request = invokeRequestBytes(endpoint, name, "{}", true);
  std::vector<double> durations;
  durations.reserve(warm);
  if (auto conn = Connection::open(endpoint); !conn) {
    out.fail(conn.error().message());
  } else {
    Reply reply;
    if (auto cold = invokeForReport(**conn, request, reply, out)) {
      row.cold_duration_ms = cold->duration_ms;
      if (!cold->init_duration_ms) out.fail("the first invoke was not a cold start");
    }
    for (size_t i = 0; i < warm && out.errors <= 3; ++i) {
      if (auto report = invokeForReport(**conn, request, reply, out)) {
        durations.push_back(report->duration_ms);
      }
    }
  }
  if (auto st = deleteFunction(mgmt, endpoint, name); !st) out.fail(st.error().message());
  row.errors = out.errors;
  row.first_error = std::move(out.first_error);
  row.warm_duration_ms = summarize(durations);
  return row;
}

// Finds n for which cpu:<n> takes about opts.cpu_target_ms at 1,769 MB (one core): measures a
// start n (x10 until it runs >= 20 ms, so timer resolution does not dominate) and scales.
Status calibrateCpu(const Endpoint& endpoint, Connection& mgmt, const std::string& zip_base64,
                    const Options& opts, const std::string& run_id, CpuResult& result) {
  uint64_t n = 20'000'000;
  for (int attempt = 0; attempt < 4; ++attempt, n *= 10) {
    const std::string name = "kdb-cpucal-" + run_id + "-" + std::to_string(attempt);
    CpuRow probe = runCpuSize(endpoint, mgmt, zip_base64, name, n, kFullCoreMemoryMb, 2,
                              std::thread::hardware_concurrency());
    if (probe.errors > 0 || probe.warm_duration_ms.count == 0) {
      return makeError(ErrorCode::Internal, "calibration cpu:" + std::to_string(n) + ": " +
                                                probe.first_error);
    }
    const double ms = probe.warm_duration_ms.min;
    if (ms < 20 && attempt + 1 < 4) continue;
    result.calibration_n = n;
    result.calibration_ms = ms;
    const double scaled = static_cast<double>(n) * opts.cpu_target_ms / std::max(ms, 0.01);
    // Round to a million so the handler name is readable.
    result.n = std::max<uint64_t>(1'000'000, static_cast<uint64_t>(scaled / 1e6 + 0.5) * 1'000'000);
    return {};
  }
  return makeError(ErrorCode::Internal, "calibration: cpu:<n> stayed under 20 ms");
}

CpuResult runCpu(const Endpoint& endpoint, Connection& mgmt, const Options& opts,
                 const std::string& run_id) {
  CpuResult result;
  auto zip = packageBase64(opts.payload_zip);
  if (!zip) {
    result.error = zip.error().message();
    return result;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  result.n = opts.cpu_n;
  if (result.n == 0) {
    if (auto st = calibrateCpu(endpoint, mgmt, *zip, opts, run_id, result); !st) {
      result.error = st.error().message();
      return result;
    }
  }
  for (int memory_mb : opts.cpu_memories) {
    const std::string name = "kdb-cpu-" + std::to_string(memory_mb) + "-" + run_id;
    result.rows.push_back(
        runCpuSize(endpoint, mgmt, *zip, name, result.n, memory_mb, opts.cpu_warm, cores));
  }
  return result;
}

json summaryJson(const Summary& s) {
  return {{"count", s.count}, {"min", s.min}, {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},     {"max", s.max}, {"mean", s.mean}};
}

json coldJson(const ColdResult& c) {
  return {{"errors", c.errors},
          {"missing_init", c.missing_init},
          {"e2e_ms", summaryJson(c.e2e_ms)},
          {"init_ms", summaryJson(c.init_ms)},
          {"duration_ms", summaryJson(c.duration_ms)},
          {"overhead_ms", summaryJson(c.overhead_ms)}};
}

// Phase 4 with its table; false when a sample failed or the baseline daemon is unusable.
bool runIsolationPhase(const Endpoint& endpoint, Connection& mgmt, const Options& opts,
                       const std::string& run_id, json& report) {
  auto baseline = parseEndpoint(opts.baseline_endpoint);
  if (!baseline) {
    fmt::print(stderr, "kindling-bench: --baseline-endpoint: {}\n", baseline.error().message());
    return false;
  }
  auto baseline_mgmt = Connection::open(*baseline);
  if (!baseline_mgmt) {
    fmt::print(stderr, "kindling-bench: baseline daemon: {}\n", baseline_mgmt.error().message());
    return false;
  }
  fmt::print("\n== Isolation cost per cold start: {} samples per runtime and daemon, interleaved, "
             "MemorySize {}, times in ms ==\n",
             opts.isolation_samples, opts.memory_mb);
  fmt::print("   process = {} (KINDLING_SANDBOX=process: fork+exec, no isolation)\n",
             opts.baseline_endpoint);
  fmt::print("   sandbox = {} (default daemon)\n", opts.endpoint);
  fmt::print("{:<16} {:<14} {:>3} {:>4} {:>9} {:>9} {:>9} {:>9}\n", "runtime", "daemon", "n",
             "err", "init p50", "init p90", "e2e p50", "e2e p90");
  bool ok = true;
  json rows = json::array();
  for (const auto& runtime : opts.isolation_runtimes) {
    IsolationResult r = runIsolation(endpoint, mgmt, *baseline, **baseline_mgmt, runtime, opts,
                                     run_id);
    if (!r.skipped.empty()) {
      fmt::print("{:<16} skipped: {}\n", runtime, r.skipped);
      rows.push_back({{"runtime", runtime}, {"skipped", r.skipped}});
      continue;
    }
    auto line = [&](const char* daemon, const ColdResult& c) {
      fmt::print("{:<16} {:<14} {:>3} {:>4} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", runtime,
                 daemon, c.e2e_ms.count, c.errors, c.init_ms.p50, c.init_ms.p90, c.e2e_ms.p50,
                 c.e2e_ms.p90);
    };
    line("process", r.baseline);
    line("sandbox", r.sandboxed);
    const double init_p50 = r.sandboxed.init_ms.p50 - r.baseline.init_ms.p50;
    const double init_p90 = r.sandboxed.init_ms.p90 - r.baseline.init_ms.p90;
    const double e2e_p50 = r.sandboxed.e2e_ms.p50 - r.baseline.e2e_ms.p50;
    const double e2e_p90 = r.sandboxed.e2e_ms.p90 - r.baseline.e2e_ms.p90;
    fmt::print("{:<16} {:<14} {:>3} {:>4} {:>+9.2f} {:>+9.2f} {:>+9.2f} {:>+9.2f}\n", runtime,
               "isolation adds", "", "", init_p50, init_p90, e2e_p50, e2e_p90);
    for (const ColdResult* c : {&r.baseline, &r.sandboxed}) {
      if (c->missing_init > 0) {
        fmt::print("{:<16} {} sample(s) had no Init Duration in REPORT (not cold?)\n", "",
                   c->missing_init);
      }
      if (!c->first_error.empty()) {
        fmt::print("{:<16} first error ({}): {}\n", "",
                   c == &r.baseline ? "process" : "sandbox", c->first_error);
        ok = false;
      }
    }
    rows.push_back({{"runtime", runtime},
                    {"process", coldJson(r.baseline)},
                    {"sandbox", coldJson(r.sandboxed)},
                    {"added_ms",
                     {{"init_p50", init_p50},
                      {"init_p90", init_p90},
                      {"e2e_p50", e2e_p50},
                      {"e2e_p90", e2e_p90}}}});
  }
  fmt::print("(differences of percentiles: sandbox minus process; the two daemons share this "
             "host and its background load)\n");
  report["isolation"] = {{"baseline_endpoint", opts.baseline_endpoint}, {"rows", std::move(rows)}};
  return ok;
}

// Phase 5 with its table; false when the calibration or an invoke failed.
bool runCpuPhase(const Endpoint& endpoint, Connection& mgmt, const Options& opts,
                 const std::string& run_id, json& report) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  CpuResult r = runCpu(endpoint, mgmt, opts, run_id);
  fmt::print("\n== CPU share follows memory: provided.al2023 `cpu:{}` (single-threaded loop), 1 "
             "cold + {} warm invokes per MemorySize ==\n",
             r.n, opts.cpu_warm);
  if (r.calibration_ms) {
    fmt::print("   n calibrated for ~{:.0f} ms at {} MB: cpu:{} took {:.2f} ms\n",
               opts.cpu_target_ms, kFullCoreMemoryMb, r.calibration_n, *r.calibration_ms);
  }
  if (!r.error.empty()) {
    fmt::print("   failed: {}\n", r.error);
    report["cpu"] = {{"error", r.error}};
    return false;
  }
  fmt::print("   quota = MemorySize x 100,000 / 1,769 us per 100,000 us period, capped at {} "
             "cores; expected ratio = 1-core share / min(quota, 1 core)\n",
             cores);
  fmt::print("{:>6} {:>11} {:>3} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "memory",
             "quota us", "err", "cold dur ms", "warm p50 ms", "min ms", "max ms", "ratio",
             "min ratio", "expected");
  // Reference: the warm median (and minimum) at 1,769 MB (one core), when that size is listed.
  double reference = 0;
  double reference_min = 0;
  for (const CpuRow& row : r.rows) {
    if (row.memory_mb == kFullCoreMemoryMb && row.warm_duration_ms.count > 0) {
      reference = row.warm_duration_ms.p50;
      reference_min = row.warm_duration_ms.min;
    }
  }
  const double full_share = std::min(1.0, quotaCores(kFullCoreMemoryMb, cores));
  bool ok = true;
  json rows = json::array();
  for (const CpuRow& row : r.rows) {
    const Summary& s = row.warm_duration_ms;
    // A single thread cannot use more than one core, whatever the quota.
    const double expected = full_share / std::min(1.0, row.quota_cores);
    const double ratio = reference > 0 && s.count > 0 ? s.p50 / reference : 0;
    const double min_ratio = reference_min > 0 && s.count > 0 ? s.min / reference_min : 0;
    const double quota_us = std::round(row.quota_cores * 100'000);
    auto optional2 = [](double v) { return v > 0 ? fmt::format("{:.2f}", v) : std::string("-"); };
    fmt::print("{:>6} {:>11.0f} {:>3} {:>11} {:>11.2f} {:>9.2f} {:>9.2f} {:>9} {:>9} {:>9.2f}\n",
               row.memory_mb, quota_us, row.errors, optional2(row.cold_duration_ms.value_or(0)),
               s.p50, s.min, s.max, optional2(ratio), optional2(min_ratio), expected);
    if (!row.first_error.empty()) {
      fmt::print("{:>6} first error: {}\n", "", row.first_error);
      ok = false;
    }
    json j = {{"memory_mb", row.memory_mb},
              {"quota_us", quota_us},
              {"errors", row.errors},
              {"warm_duration_ms", summaryJson(s)},
              {"expected_ratio", expected}};
    if (row.cold_duration_ms) j["cold_duration_ms"] = *row.cold_duration_ms;
    if (ratio > 0) j["ratio_to_1769"] = ratio;
    if (min_ratio > 0) j["min_ratio_to_1769"] = min_ratio;
    rows.push_back(std::move(j));
  }
  fmt::print("(ratio = warm Duration p50 / the {} MB one, min ratio = the same for the minima: "
             "less sensitive to other load on a shared host; CFS enforces the quota per 100 ms "
             "period, so at small sizes the loop runs in bursts)\n",
             kFullCoreMemoryMb);
  report["cpu"] = {{"handler", "cpu:" + std::to_string(r.n)}, {"rows", std::move(rows)}};
  if (r.calibration_ms) {
    report["cpu"]["calibration"] = {{"n", r.calibration_n}, {"duration_ms", *r.calibration_ms}};
  }
  return ok;
}

// ---- phase 6: asynchronous (Event) invokes ----

// How often the queue list is read while waiting for deliveries.
constexpr auto kQueuePollInterval = std::chrono::milliseconds(5);

struct EventResult {
  int clients = 0;
  size_t accepted = 0;  // 202 answers
  size_t errors = 0;    // failed sends, failed deliveries (OnFailure messages), setup or poll errors
  std::string first_error;
  Summary accept_latency_us;
  double send_s = 0;  // first send to last 202
  double accepted_per_s = 0;
  size_t delivered = 0;  // OnSuccess messages seen
  size_t failed = 0;     // OnFailure messages seen
  bool timed_out = false;
  size_t polls = 0;
  double delivery_s = 0;  // first send to the poll that saw the last message
  double delivered_per_s = 0;
  double drain_ms = 0;  // last 202 to the poll that saw the last message
  // The daemon's counters for the function at the end of the row (nullopt: not scraped).
  std::optional<double> throttles;    // kindling_throttles_total (delivery retries included)
  std::optional<double> cold_starts;  // kindling_cold_starts_total
};

// One Event row: deploys `name` with its destinations, sends opts.event_invokes events over
// `clients` connections, waits for their messages, deletes the function (its queue messages
// stay: the daemon has no queue deletion).
EventResult runEvent(const Endpoint& endpoint, Connection& mgmt, const std::string& zip_base64,
                     const std::string& name, int clients, const Options& opts) {
  EventResult result;
  result.clients = clients;
  FunctionSpec spec;
  spec.name = name;
  spec.runtime = "provided.al2023";
  spec.handler = "noop";
  spec.memory_mb = opts.event_memory_mb;
  spec.timeout_s = 10;
  spec.zip_base64 = zip_base64;
  const std::string ok_queue = name + "-ok";
  const std::string failed_queue = name + "-failed";
  EventInvokeSpec config;
  config.on_success = "arn:aws:sqs:us-east-1:000000000000:" + ok_queue;
  config.on_failure = "arn:aws:sqs:us-east-1:000000000000:" + failed_queue;
  config.max_retry_attempts = 0;
  if (auto st = createFunction(mgmt, endpoint, spec); !st) {
    result.errors = 1;
    result.first_error = st.error().message();
    return result;
  }
  if (auto st = putEventInvokeConfig(mgmt, endpoint, name, config); !st) {
    result.errors = 1;
    result.first_error = st.error().message();
    if (auto del = deleteFunction(mgmt, endpoint, name); !del) {
      fmt::print(stderr, "kindling-bench: cleanup: {}\n", del.error().message());
    }
    return result;
  }

  // Exactly `invokes` events in all (the wait counts messages): the first ones get one more.
  const std::string request = eventInvokeRequestBytes(endpoint, name, "{}");
  const size_t invokes = opts.event_invokes;
  struct EventClient {
    ClientOutcome out;
    SteadyClock::time_point last_accepted{};
  };
  std::vector<EventClient> outcomes(clients);
  std::latch ready(clients + 1);
  std::latch go(1);
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c) {
    const size_t share = invokes / clients + (static_cast<size_t>(c) < invokes % clients ? 1 : 0);
    threads.emplace_back([&, c, share] {
      EventClient& me = outcomes[c];
      me.out.latency_us.reserve(share);
      auto conn = Connection::open(endpoint);
      ready.count_down();
      go.wait();
      if (!conn) {
        me.out.fail(conn.error().message());
        return;
      }
      Reply reply;
      for (size_t i = 0; i < share && me.out.errors <= 100; ++i) {
        const auto t0 = SteadyClock::now();
        auto st = (*conn)->roundTrip(request, reply);
        const auto t1 = SteadyClock::now();
        if (!st) {
          me.out.fail(st.error().message());
        } else if (reply.status != 202) {
          me.out.fail("HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 200));
        } else {
          me.out.latency_us.push_back(elapsedUs(t0, t1));
          me.last_accepted = t1;
        }
      }
    });
  }
  ready.arrive_and_wait();
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& t : threads) t.join();

  std::vector<double> all;
  all.reserve(invokes);
  auto last_accepted = start;
  for (auto& client : outcomes) {
    all.insert(all.end(), client.out.latency_us.begin(), client.out.latency_us.end());
    result.errors += client.out.errors;
    if (result.first_error.empty()) result.first_error = client.out.first_error;
    last_accepted = std::max(last_accepted, client.last_accepted);
  }
  result.accepted = all.size();
  result.accept_latency_us = summarize(all);
  result.send_s = elapsedUs(start, last_accepted) / 1e6;
  result.accepted_per_s =
      result.send_s > 0 ? static_cast<double>(result.accepted) / result.send_s : 0;

  // Wait for one message per accepted event (bounded by --event-wait-s after the last 202).
  const std::string list_request = queueListRequestBytes(endpoint);
  const auto deadline =
      last_accepted + std::chrono::duration_cast<SteadyClock::duration>(
                          std::chrono::duration<double>(opts.event_wait_s));
  std::vector<QueueCount> queues;
  Reply reply;
  auto next_poll = SteadyClock::now();
  while (result.accepted > 0) {
    ++result.polls;
    if (auto st = listQueues(mgmt, list_request, reply, queues); !st) {
      ++result.errors;
      if (result.first_error.empty()) result.first_error = st.error().message();
      break;
    }
    const auto seen_at = SteadyClock::now();
    result.delivered = 0;
    result.failed = 0;
    for (const QueueCount& q : queues) {
      if (q.name == ok_queue) result.delivered = static_cast<size_t>(q.visible + q.in_flight);
      if (q.name == failed_queue) result.failed = static_cast<size_t>(q.visible + q.in_flight);
    }
    if (result.delivered + result.failed >= result.accepted) {
      result.delivery_s = elapsedUs(start, seen_at) / 1e6;
      result.delivered_per_s = static_cast<double>(result.accepted) / result.delivery_s;
      result.drain_ms = elapsedUs(last_accepted, seen_at) / 1000;
      break;
    }
    if (seen_at >= deadline) {
      result.timed_out = true;
      ++result.errors;
      if (result.first_error.empty()) {
        result.first_error = fmt::format(
            "timed out after {:.0f} s: {} of {} accepted events delivered, {} failed",
            opts.event_wait_s, result.delivered, result.accepted, result.failed);
      }
      break;
    }
    // Every ~5 ms; after a slow poll, the next one at once (no burst to catch up).
    next_poll = std::max(next_poll + kQueuePollInterval, seen_at);
    std::this_thread::sleep_until(next_poll);
  }
  if (auto metrics = scrapeMetrics(mgmt, endpoint); metrics) {
    result.throttles = functionMetric(*metrics, "kindling_throttles_total", name);
    result.cold_starts = functionMetric(*metrics, "kindling_cold_starts_total", name);
  } else {
    fmt::print(stderr, "kindling-bench: {}\n", metrics.error().message());
  }
  if (result.failed > 0) {
    result.errors += result.failed;
    if (result.first_error.empty()) {
      result.first_error = fmt::format("{} event(s) failed (messages in queue {})", result.failed,
                                       failed_queue);
    }
  }
  if (auto st = deleteFunction(mgmt, endpoint, name); !st) {
    fmt::print(stderr, "kindling-bench: cleanup: {}\n", st.error().message());
  }
  return result;
}

// Phase 6 with its table; false when a send, a delivery or the wait failed.
bool runEventPhase(const Endpoint& endpoint, Connection& mgmt, const Options& opts,
                   const std::string& run_id, json& report) {
  auto zip = packageBase64(opts.payload_zip);
  if (!zip) {
    fmt::print(stderr, "kindling-bench: --payload-zip: {}\n", zip.error().message());
    report["event"] = {{"error", zip.error().message()}};
    return false;
  }
  fmt::print("\n== Event invoke: provided.al2023 `noop` with an OnSuccess SQS destination, "
             "MemorySize {}, {} events per row, a fresh function per row ==\n",
             opts.event_memory_mb, opts.event_invokes);
  fmt::print("{:>7} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>11} {:>9} {:>5} {:>9}\n",
             "clients", "accepted", "errors", "p50 us", "p90 us", "p99 us", "max us",
             "accepted/s", "delivered", "delivered/s", "drain ms", "colds", "throttles");
  bool ok = true;
  json rows = json::array();
  for (int clients : opts.event_clients) {
    if (clients < 1) continue;
    const std::string name = "kdb-event-" + std::to_string(clients) + "-" + run_id;
    EventResult r = runEvent(endpoint, mgmt, *zip, name, clients, opts);
    const Summary& s = r.accept_latency_us;
    auto figure = [](bool known, double v, const char* format) {
      return known ? fmt::format(fmt::runtime(format), v) : std::string("-");
    };
    const bool delivered = r.delivery_s > 0;
    fmt::print("{:>7} {:>8} {:>6} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>10.0f} {:>9} {:>11} "
               "{:>9} {:>5} {:>9}\n",
               clients, r.accepted, r.errors, s.p50, s.p90, s.p99, s.max, r.accepted_per_s,
               r.delivered, figure(delivered, r.delivered_per_s, "{:.0f}"),
               figure(delivered, r.drain_ms, "{:.1f}"),
               figure(r.cold_starts.has_value(), r.cold_starts.value_or(0), "{:.0f}"),
               figure(r.throttles.has_value(), r.throttles.value_or(0), "{:.0f}"));
    if (!r.first_error.empty()) {
      fmt::print("        first error: {}\n", r.first_error);
      ok = false;
    }
    json row = {{"clients", clients},
                {"accepted", r.accepted},
                {"errors", r.errors},
                {"accept_latency_us", summaryJson(s)},
                {"send_s", r.send_s},
                {"accepted_per_s", r.accepted_per_s},
                {"delivered", r.delivered},
                {"failed", r.failed},
                {"timed_out", r.timed_out},
                {"polls", r.polls}};
    if (r.delivery_s > 0) {
      row["delivery_s"] = r.delivery_s;
      row["delivered_per_s"] = r.delivered_per_s;
      row["drain_ms"] = r.drain_ms;
    }
    if (r.cold_starts) row["cold_starts"] = static_cast<uint64_t>(*r.cold_starts);
    if (r.throttles) row["throttles"] = static_cast<uint64_t>(*r.throttles);
    if (!r.first_error.empty()) row["first_error"] = r.first_error;
    rows.push_back(std::move(row));
  }
  fmt::print("(latency = until the 202, i.e. the event is committed; delivered/s = events / "
             "first send to last message seen, polled every {} ms; drain = last 202 to last "
             "message seen; colds, throttles = the daemon's counters for the row's function: "
             "a throttled delivery is retried after a backoff of 1 s or more)\n",
             kQueuePollInterval.count());
  report["event"] = {{"invokes", opts.event_invokes},
                     {"memory_mb", opts.event_memory_mb},
                     {"rows", std::move(rows)}};
  return ok;
}

int run(const Options& opts) {
  auto endpoint = parseEndpoint(opts.endpoint);
  if (!endpoint) {
    fmt::print(stderr, "kindling-bench: --endpoint: {}\n", endpoint.error().message());
    return 2;
  }
  auto mgmt = Connection::open(*endpoint);
  if (!mgmt) {
    fmt::print(stderr, "kindling-bench: {}\n", mgmt.error().message());
    return 1;
  }
  const std::string run_id = randomHex32().substr(0, 8);
  json report = {{"endpoint", opts.endpoint}, {"host_cores", std::thread::hardware_concurrency()}};
  int exit_code = 0;

  fmt::print("kindling-bench  endpoint={}  host cores={}  run={}\n", opts.endpoint,
             std::thread::hardware_concurrency(), run_id);
  fmt::print("(client and daemon share this host's cores; latencies are client-observed)\n");

  // Phases 1 + 2 share one no-op function.
  const bool need_noop = (!opts.clients.empty() && opts.invokes > 0) || opts.tail_invokes > 0;
  if (need_noop) {
    auto zip = packageBase64(opts.payload_zip);
    if (!zip) {
      fmt::print(stderr, "kindling-bench: --payload-zip: {}\n", zip.error().message());
      return 1;
    }
    FunctionSpec spec;
    spec.name = "kdb-noop-" + run_id;
    spec.runtime = "provided.al2023";
    spec.handler = "noop";
    spec.memory_mb = opts.memory_mb;
    spec.timeout_s = 10;
    spec.zip_base64 = *zip;
    if (auto st = createFunction(**mgmt, *endpoint, spec); !st) {
      fmt::print(stderr, "kindling-bench: {}\n", st.error().message());
      return 1;
    }

    if (!opts.clients.empty() && opts.invokes > 0) {
      fmt::print("\n== Warm invoke: provided.al2023 `noop`, MemorySize {}, payload {{}}, {} invokes "
                 "per row after {} warm-up ==\n",
                 opts.memory_mb, opts.invokes, opts.warmup);
      fmt::print("{:>7} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "clients", "invokes",
                 "errors", "p50 us", "p90 us", "p99 us", "max us", "mean us", "invokes/s");
      json rows = json::array();
      for (int clients : opts.clients) {
        if (clients < 1) continue;
        WarmResult r = runWarm(*endpoint, spec.name, clients, opts.invokes, opts.warmup);
        const Summary& s = r.latency_us;
        fmt::print("{:>7} {:>8} {:>6} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>10.0f}\n",
                   clients, s.count, r.errors, s.p50, s.p90, s.p99, s.max, s.mean,
                   r.invokes_per_s);
        if (!r.first_error.empty()) {
          fmt::print("        first error: {}\n", r.first_error);
          exit_code = 1;
        }
        rows.push_back({{"clients", clients},
                        {"errors", r.errors},
                        {"latency_us", summaryJson(s)},
                        {"wall_s", r.wall_s},
                        {"invokes_per_s", r.invokes_per_s}});
      }
      report["warm"] = std::move(rows);
    }

    if (opts.tail_invokes > 0) {
      TailResult t = runTail(*endpoint, spec.name, opts.tail_invokes);
      fmt::print("\n== Platform-added latency: 1 client, X-Amz-Log-Type: Tail, {} invokes ==\n",
                 opts.tail_invokes);
      fmt::print("{:<28} {:>7} {:>9} {:>9} {:>9} {:>9}\n", "", "count", "p50 us", "p90 us",
                 "p99 us", "max us");
      auto row = [](const char* label, const Summary& s) {
        fmt::print("{:<28} {:>7} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f}\n", label, s.count, s.p50,
                   s.p90, s.p99, s.max);
      };
      row("client latency (with Tail)", t.client_us);
      row("REPORT Duration", t.report_duration_us);
      row("client - REPORT Duration", t.overhead_us);
      if (t.missing_report > 0) fmt::print("  replies without a REPORT line: {}\n", t.missing_report);
      if (!t.first_error.empty()) {
        fmt::print("  errors: {} first: {}\n", t.errors, t.first_error);
        exit_code = 1;
      }
      report["tail"] = {{"client_us", summaryJson(t.client_us)},
                        {"report_duration_us", summaryJson(t.report_duration_us)},
                        {"overhead_us", summaryJson(t.overhead_us)},
                        {"errors", t.errors},
                        {"missing_report", t.missing_report}};
    }
    if (auto st = deleteFunction(**mgmt, *endpoint, spec.name); !st) {
      fmt::print(stderr, "kindling-bench: cleanup: {}\n", st.error().message());
    }
  }

  if (opts.cold_samples > 0 && !opts.runtimes.empty()) {
    fmt::print("\n== Cold start: {} samples per runtime, a fresh function per sample, MemorySize "
               "{}, times in ms ==\n",
               opts.cold_samples, opts.memory_mb);
    fmt::print("{:<16} {:>3} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "runtime", "n", "err",
               "init p50", "init p99", "e2e p50", "e2e p99", "e2e max", "e2e-init-dur p50");
    json rows = json::array();
    for (const auto& runtime : opts.runtimes) {
      ColdResult c = runCold(*endpoint, **mgmt, runtime, opts, run_id);
      if (!c.skipped.empty()) {
        fmt::print("{:<16} skipped: {}\n", runtime, c.skipped);
        rows.push_back({{"runtime", runtime}, {"skipped", c.skipped}});
        continue;
      }
      fmt::print("{:<16} {:>3} {:>4} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.2f}\n",
                 runtime, c.e2e_ms.count, c.errors, c.init_ms.p50, c.init_ms.p99, c.e2e_ms.p50,
                 c.e2e_ms.p99, c.e2e_ms.max, c.overhead_ms.p50);
      if (c.missing_init > 0) {
        fmt::print("{:<16} {} sample(s) had no Init Duration in REPORT (not cold?)\n", "",
                   c.missing_init);
      }
      if (!c.first_error.empty()) {
        fmt::print("{:<16} first error: {}\n", "", c.first_error);
        exit_code = 1;
      }
      json row = coldJson(c);
      row["runtime"] = runtime;
      rows.push_back(std::move(row));
    }
    report["cold"] = std::move(rows);
    fmt::print("(with n samples, p99 is the largest sample when n < 100)\n");
  }

  if (!opts.baseline_endpoint.empty() && opts.isolation_samples > 0 &&
      !opts.isolation_runtimes.empty()) {
    if (!runIsolationPhase(*endpoint, **mgmt, opts, run_id, report)) exit_code = 1;
  }

  if (!opts.cpu_memories.empty() && opts.cpu_warm > 0) {
    if (!runCpuPhase(*endpoint, **mgmt, opts, run_id, report)) exit_code = 1;
  }

  if (opts.event_invokes > 0 && !opts.event_clients.empty()) {
    if (!runEventPhase(*endpoint, **mgmt, opts, run_id, report)) exit_code = 1;
  }

  if (!opts.json_out.empty()) {
    std::ofstream out(opts.json_out);
    out << report.dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "kindling-bench: cannot write {}\n", opts.json_out);
      exit_code = 1;
    }
  }
  return exit_code;
}

}  // namespace
}  // namespace kindling::bench

int main(int argc, char** argv) {
  kindling::bench::Options opts;
  CLI::App app{"kindling-bench: end-to-end benchmark of a running kindling daemon"};
  // Scalar options: the last occurrence wins, so scripts/bench.sh's defaults can be overridden.
  auto scalar = [&](const char* name, auto& value, const char* help) {
    return app.add_option(name, value, help)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  };
  scalar("--endpoint", opts.endpoint, "daemon AWS API, http://HOST:PORT")->required();
  scalar("--payload-zip", opts.payload_zip,
         "test payload binary (zipped as `bootstrap`), a directory or a ready zip")
      ->required();
  scalar("--built-examples-dir", opts.built_examples_dir,
         "packages of compiled examples (scripts/build-examples.sh, examples/java/build.sh)");
  scalar("--examples-dir", opts.examples_dir,
         "examples/ of the repository (python/hello, node/hello)");
  app.add_option("--clients", opts.clients, "concurrent clients per warm row (default 1,8)")
      ->delimiter(',');
  scalar("--invokes", opts.invokes, "measured invokes per warm row (0 = skip)");
  scalar("--warmup", opts.warmup, "warm-up invokes per warm row");
  scalar("--tail-invokes", opts.tail_invokes, "invokes of the Tail phase (0 = skip)");
  scalar("--cold-samples", opts.cold_samples, "cold starts per runtime (0 = skip)");
  app.add_option("--runtimes", opts.runtimes, "runtimes of the cold-start phase")->delimiter(',');
  scalar("--memory", opts.memory_mb,
         "MemorySize of every benchmark function but the Event phase's (--event-memory)");
  scalar("--json-out", opts.json_out, "also write the figures as JSON to this file");
  scalar("--baseline-endpoint", opts.baseline_endpoint,
         "a second daemon started with KINDLING_SANDBOX=process: enables the isolation-cost "
         "phase (cold starts against both)");
  scalar("--isolation-samples", opts.isolation_samples,
         "cold starts per runtime and daemon in the isolation phase (0 = skip)");
  app.add_option("--isolation-runtimes", opts.isolation_runtimes,
                 "runtimes of the isolation phase (default provided.al2023,python3.11)")
      ->delimiter(',');
  app.add_option("--cpu-memories", opts.cpu_memories,
                 "MemorySizes of the CPU-share phase (default 128,512,1769,3008)")
      ->delimiter(',');
  scalar("--cpu-warm", opts.cpu_warm, "warm invokes per MemorySize in the CPU phase (0 = skip)");
  scalar("--cpu-n", opts.cpu_n, "n of the cpu:<n> handler (0 = calibrate to --cpu-target-ms)");
  scalar("--cpu-target-ms", opts.cpu_target_ms, "calibration target at 1769 MB");
  scalar("--event-invokes", opts.event_invokes,
         "Event invokes per row of the asynchronous phase, all clients together (0 = skip)");
  app.add_option("--event-clients", opts.event_clients,
                 "concurrent clients per Event row (default 1,8)")
      ->delimiter(',');
  scalar("--event-memory", opts.event_memory_mb,
         "MemorySize of the Event phase's functions (default 128, see the phase comment)");
  scalar("--event-wait-s", opts.event_wait_s,
         "longest wait for the Event deliveries after the last 202, seconds");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return kindling::bench::run(opts);
  } catch (const std::exception& e) {  // bad_alloc, thread creation: nothing else throws
    std::fprintf(stderr, "kindling-bench: %s\n", e.what());
    return 1;
  }
}
