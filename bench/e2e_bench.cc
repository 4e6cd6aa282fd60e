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
// The client runs on the same host as the daemon and shares its cores: figures are for this
// machine, not absolute.
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/bench_client.h"
#include "bench/stats.h"
#include "common/strings.h"
#include "store/zip.h"

namespace kindling::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string endpoint;
  std::string payload_zip;  // the test payload binary (zipped as `bootstrap`) or a ready zip
  std::string examples_dir = "examples";
  std::vector<int> clients = {1, 8};
  size_t invokes = 20000;  // measured invokes per warm phase (all clients together)
  size_t warmup = 1000;    // warm-up invokes per warm phase (all clients together)
  size_t tail_invokes = 2000;
  size_t cold_samples = 10;
  int memory_mb = 1769;
  std::vector<std::string> runtimes = {"provided.al2023", "python3.11", "python3.12",
                                       "python3.13",      "nodejs20.x", "nodejs22.x",
                                       "nodejs24.x"};
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
};

double elapsedUs(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errnoError("open(" + path.string() + ")");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

// A deployment package as base64: a directory is zipped; a zip file is taken as is; any other
// file is zipped alone as an executable `bootstrap`.
Result<std::string> packageBase64(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto zip = store::zipDirectory(path);
    if (!zip) return tl::unexpected(std::move(zip.error()).wrap("zip " + path.string()));
    return base64Encode(*zip);
  }
  auto bytes = readFile(path);
  if (!bytes) return tl::unexpected(std::move(bytes.error()));
  if (bytes->rfind("PK\x03\x04", 0) == 0) return base64Encode(*bytes);
  char tmpl[] = "/tmp/kindling-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return errnoError("mkdtemp(/tmp/kindling-bench-XXXXXX)");
  const fs::path dir = tmpl;
  Result<std::string> zip = makeError(ErrorCode::Internal, "unreachable");
  fs::copy_file(path, dir / "bootstrap", ec);
  if (ec) {
    zip = makeError(ErrorCode::Io, "copy " + path.string() + ": " + ec.message());
  } else {
    fs::permissions(dir / "bootstrap", fs::perms(0755), ec);
    zip = store::zipDirectory(dir);
  }
  fs::remove_all(dir, ec);
  if (!zip) return tl::unexpected(std::move(zip.error()));
  return base64Encode(*zip);
}

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

struct ColdResult {
  std::string runtime;
  std::string skipped;  // reason, when the runtime could not be benchmarked
  size_t errors = 0;
  std::string first_error;
  size_t missing_init = 0;
  Summary e2e_ms;
  Summary init_ms;
  Summary duration_ms;
  Summary overhead_ms;  // e2e - init - duration: spawn, HTTP, scheduling
};

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
  return makeError(ErrorCode::InvalidArgument, "no benchmark function for runtime " + runtime);
}

ColdResult runCold(const Endpoint& endpoint, Connection& mgmt, const std::string& runtime,
                   const Options& opts, const std::string& run_id) {
  ColdResult result;
  result.runtime = runtime;
  auto source = sourceFor(runtime, opts);
  if (!source) {
    result.skipped = source.error().message();
    return result;
  }
  auto zip = packageBase64(source->code);
  if (!zip) {
    result.skipped = zip.error().message();
    return result;
  }
  std::string tag;
  for (char ch : runtime) tag += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
  std::vector<double> e2e, init, duration, overhead;
  ClientOutcome out;
  for (size_t i = 0; i < opts.cold_samples && out.errors <= 3; ++i) {
    FunctionSpec spec;
    spec.name = "kdb-cold-" + tag + "-" + run_id + "-" + std::to_string(i);
    spec.runtime = runtime;
    spec.handler = source->handler;
    spec.memory_mb = opts.memory_mb;
    spec.timeout_s = 30;
    spec.zip_base64 = *zip;
    if (auto st = createFunction(mgmt, endpoint, spec); !st) {
      if (st.error().code == ErrorCode::InvalidRuntime) {
        result.skipped = st.error().message();
        return result;
      }
      out.fail(st.error().message());
      continue;
    }
    // A fresh connection per sample, as a new client would open.
    const std::string request = invokeRequestBytes(endpoint, spec.name, source->payload, true);
    auto conn = Connection::open(endpoint);
    if (!conn) {
      out.fail(conn.error().message());
    } else {
      Reply reply;
      const auto t0 = SteadyClock::now();
      const bool ok = invokeOnce(**conn, request, reply, out);
      const double ms = elapsedUs(t0, SteadyClock::now()) / 1000;
      if (ok) {
        e2e.push_back(ms);
        auto log = base64Decode(reply.log_result);
        auto report = log ? parseReportLine(*log) : std::nullopt;
        if (report && report->init_duration_ms) {
          init.push_back(*report->init_duration_ms);
          duration.push_back(report->duration_ms);
          overhead.push_back(ms - *report->init_duration_ms - report->duration_ms);
        } else {
          ++result.missing_init;
        }
      }
    }
    if (auto st = deleteFunction(mgmt, endpoint, spec.name); !st) out.fail(st.error().message());
  }
  result.errors = out.errors;
  result.first_error = out.first_error;
  result.e2e_ms = summarize(e2e);
  result.init_ms = summarize(init);
  result.duration_ms = summarize(duration);
  result.overhead_ms = summarize(overhead);
  return result;
}

json summaryJson(const Summary& s) {
  return {{"count", s.count}, {"min", s.min}, {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},     {"max", s.max}, {"mean", s.mean}};
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
      rows.push_back({{"runtime", runtime},
                      {"errors", c.errors},
                      {"missing_init", c.missing_init},
                      {"e2e_ms", summaryJson(c.e2e_ms)},
                      {"init_ms", summaryJson(c.init_ms)},
                      {"duration_ms", summaryJson(c.duration_ms)},
                      {"overhead_ms", summaryJson(c.overhead_ms)}});
    }
    report["cold"] = std::move(rows);
    fmt::print("(with n samples, p99 is the largest sample when n < 100)\n");
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
  scalar("--examples-dir", opts.examples_dir,
         "examples/ of the repository (python/hello, node/hello)");
  app.add_option("--clients", opts.clients, "concurrent clients per warm row (default 1,8)")
      ->delimiter(',');
  scalar("--invokes", opts.invokes, "measured invokes per warm row (0 = skip)");
  scalar("--warmup", opts.warmup, "warm-up invokes per warm row");
  scalar("--tail-invokes", opts.tail_invokes, "invokes of the Tail phase (0 = skip)");
  scalar("--cold-samples", opts.cold_samples, "cold starts per runtime (0 = skip)");
  app.add_option("--runtimes", opts.runtimes, "runtimes of the cold-start phase")->delimiter(',');
  scalar("--memory", opts.memory_mb, "MemorySize of every benchmark function");
  scalar("--json-out", opts.json_out, "also write the figures as JSON to this file");
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
