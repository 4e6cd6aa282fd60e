// `kindling bench`: the runtime x memory x workload matrix on the local engine.
//
// Per cell: create a function from the example set (examples/<language>/<workload>, compiled
// languages from the build tree), then N cold samples and M warm ones, sequentially from one
// client. A cold sample is a real new environment: the first invoke after CreateFunction (once
// --settle-ms has passed: 1 s by default, for what the daemon prepares per new function), then
// an UpdateFunctionConfiguration that changes an environment variable before each further one
// (what lambda-perf does on AWS: the daemon replaces the function's environments on a
// configuration change). Whether a sample was cold is read from its REPORT line (Init Duration
// present), never assumed: a "warm" invoke that found no environment is recorded as the cold
// start it was. Every number comes from the REPORT line in the invoke's log tail (Init Duration,
// Duration, Billed Duration, Max Memory Used) plus the client's own round trip.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/daemon_session.h"
#include "cli/demo.h"
#include "cli/lab_commands.h"
#include "cli/lab_driver.h"
#include "cli/wire.h"
#include "lab/compare.h"
#include "lab/results.h"
#include "report/html_report.h"

#ifndef KINDLING_BUILD_DIR
#define KINDLING_BUILD_DIR ""
#endif

namespace kindling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The runtimes `bench` knows how to package the example set for, in the default order. Other
// Lambda runtime ids of these families (python3.10, nodejs18.x, ruby3.3, java21, ...) work too
// when the daemon has them.
struct KnownRuntime {
  std::string_view label;
  std::string_view runtime_id;
};
constexpr KnownRuntime kKnownRuntimes[] = {
    {"python3.11", "python3.11"}, {"python3.12", "python3.12"}, {"python3.13", "python3.13"},
    {"nodejs20.x", "nodejs20.x"}, {"nodejs22.x", "nodejs22.x"}, {"nodejs24.x", "nodejs24.x"},
    {"ruby3.1", "ruby3.1"},       {"java17", "java17"},         {"java25", "java25"},
    {"go", "provided.al2023"},    {"rust", "provided.al2023"},  {"cpp", "provided.al2023"},
};

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Where one (runtime, workload) comes from and how it is invoked.
struct WorkloadSource {
  std::string runtime_id;
  std::string handler;
  fs::path code;  // a directory (zipped on the fly) or a built .zip/.jar
  std::string payload;
};

struct Locations {
  fs::path repo;
  fs::path built_examples;  // <build>/examples (compiled languages, Java)
};

Result<WorkloadSource> sourceFor(std::string_view label, const std::string& workload,
                                 const Locations& where, const std::string& json_document) {
  WorkloadSource src;
  if (workload == "hello") {
    src.payload = R"({"name":"kindling"})";
  } else if (workload == "cpu") {
    src.payload = R"({"n":1000000})";
  } else if (workload == "json") {
    src.payload = json_document;
  } else {
    src.payload = "{}";
  }
  std::string family;
  if (startsWith(label, "python")) {
    family = "python";
    src.handler = "app.handler";
  } else if (startsWith(label, "nodejs")) {
    family = "node";
    src.handler = "index.handler";
  } else if (startsWith(label, "ruby")) {
    family = "ruby";
    src.handler = "function.handler";
  } else if (startsWith(label, "java")) {
    src.runtime_id = std::string(label);
    static const std::map<std::string, std::string> kJavaHandlers = {
        {"hello", "example.Hello"},
        {"cpu", "example.Cpu::handleRequest"},
        {"json", "example.Summary::handleRequest"},
        {"heavy-init", "example.HeavyInit::handleRequest"}};
    src.handler = kJavaHandlers.at(workload);
    src.code = where.built_examples / "java" / (workload + (workload == "cpu" ? ".jar" : ".zip"));
  } else if (label == "go" || label == "rust" || label == "cpp") {
    src.runtime_id = "provided.al2023";
    src.handler = "bootstrap";
    src.code = where.built_examples / std::string(label) / (workload + ".zip");
  } else {
    return makeError(ErrorCode::InvalidArgument,
                     "unknown runtime '" + std::string(label) +
                         "' (python3.x, nodejsNN.x, ruby3.x, javaNN, go, rust or cpp)");
  }
  if (!family.empty()) {
    src.runtime_id = std::string(label);
    src.code = where.repo / "examples" / family / workload;
  }
  std::error_code ec;
  if (!fs::exists(src.code, ec)) {
    return makeError(ErrorCode::NotFound,
                     src.code.string() + " not found" +
                         (src.code.extension().empty() ? std::string()
                                                       : " (scripts/setup.sh builds it)"));
  }
  return src;
}

std::string functionName(std::string_view label, std::string_view workload, int memory_mb) {
  std::string name = "kindling-bench-";
  for (char c : label) name.push_back(c == '.' ? '_' : c == '+' ? '-' : c);
  name += "-";
  name += workload;
  name += "-" + std::to_string(memory_mb);
  return name;
}

Locations locate() {
  Locations where;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (auto repo = findRepoRoot(std::getenv("KINDLING_HOME"), exe)) where.repo = *repo;
  if (const char* out = std::getenv("KINDLING_EXAMPLES_OUT"); out != nullptr && *out != '\0') {
    where.built_examples = out;
  } else if (fs::is_directory(exe.parent_path() / "examples", ec)) {
    where.built_examples = exe.parent_path() / "examples";
  } else {
    where.built_examples = fs::path(KINDLING_BUILD_DIR) / "examples";
  }
  return where;
}

std::string fmtMs(const lab::Summary& s) {
  if (s.count == 0) return "-";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(s.p50 < 10 ? 2 : 1);
  o << s.p50 << " ms";
  return o.str();
}

// One cell: deploy, N cold + M warm samples, delete. RuntimeUnavailable when the daemon refuses
// the runtime (the caller skips its other cells); Failed with `why` when the deploy failed.
enum class CellOutcome { Measured, RuntimeUnavailable, Failed };

CellOutcome runCell(HttpClient& client, lab::Cell& cell, const WorkloadSource& src,
                    const std::string& zip, const BenchOptions& opts, Progress& progress,
                    std::string& why) {
  const std::string name = functionName(cell.runtime, cell.workload, cell.memory_mb);
  (void)deleteFunction(client, name);  // left over from an interrupted run
  DeployOptions spec;
  spec.name = name;
  spec.runtime = src.runtime_id;
  spec.handler = src.handler;
  spec.memory_mb = cell.memory_mb;
  spec.timeout_s = 60;
  auto created = createFunction(client, spec, zip);
  if (!created) {
    why = created.error().message();
    return CellOutcome::Failed;
  }
  if (created->result_int() / 100 != 2) {
    ApiError e = parseApiError(*created);
    why = renderApiError(e);
    return isRuntimeRejection(e) ? CellOutcome::RuntimeUnavailable : CellOutcome::Failed;
  }
  const std::string label = cell.runtime + " " + cell.workload + " " +
                            std::to_string(cell.memory_mb) + " MB";
  if (opts.settle_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts.settle_ms));
  if (opts.snapstart) {
    if (auto ok = updateConfiguration(client, name, {{"SnapStart", {{"ApplyOn", "PublishedVersions"}}}});
        !ok) {
      why = ok.error().message();
      (void)deleteFunction(client, name);
      return CellOutcome::RuntimeUnavailable;  // e.g. "<runtime> is not supported for SnapStart"
    }
  }
  std::string qualifier;  // --snapstart: the version published for the last cold sample
  for (int i = 0; i < opts.cold; ++i) {
    if (i > 0) {
      json body = {{"Environment",
                    {{"Variables", {{"KINDLING_BENCH_COLD_START", std::to_string(i)}}}}}};
      if (auto ok = updateConfiguration(client, name, body); !ok) {
        cell.notes.push_back("cold start " + std::to_string(i) + ": " + ok.error().message());
        progress.advance(opts.cold - i, label);
        break;
      }
    }
    if (opts.snapstart) {
      auto version = publishVersion(client, name);
      if (!version) {
        cell.notes.push_back("cold start " + std::to_string(i) + ": " + version.error().message());
        progress.advance(opts.cold - i, label);
        break;
      }
      qualifier = *version;
    }
    cell.samples.push_back(measureInvoke(client, name, src.payload, /*expect_cold=*/true, qualifier));
    progress.advance(1, label);
  }
  for (int i = 0; i < opts.warm; ++i) {
    cell.samples.push_back(
        measureInvoke(client, name, src.payload, /*expect_cold=*/false, qualifier));
    progress.advance(1, label);
  }
  if (!opts.keep) (void)deleteFunction(client, name);
  return CellOutcome::Measured;
}

std::vector<std::string> defaultRuntimes() {
  std::vector<std::string> out;
  for (const KnownRuntime& r : kKnownRuntimes) out.emplace_back(r.label);
  return out;
}

}  // namespace

int runBench(const std::string& endpoint_url, const BenchOptions& opts, const CliHooks& hooks,
             Console console) {
  std::ostream& out = console.out;
  std::ostream& err = console.err;
  auto pricing = pricingFrom(opts.prices);
  if (!pricing) {
    err << "error: " << pricing.error().message() << "\n";
    return kExitFailure;
  }
  std::optional<lab::AwsReference> reference;
  if (!opts.compare.empty()) {
    auto text = readWholeFile(opts.compare);
    if (!text) {
      err << "error: --compare: " << text.error().message() << "\n";
      return kExitFailure;
    }
    auto parsed = lab::parseLambdaPerf(*text, opts.compare);
    if (!parsed) {
      err << "error: --compare " << opts.compare << ": " << parsed.error().message() << "\n";
      return kExitFailure;
    }
    reference = std::move(*parsed);
  }
  const fs::path out_dir = opts.out.empty() ? fs::path("kindling-bench-" + compactUtcNow())
                                            : fs::path(opts.out);
  {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) {
      err << "error: creating " << out_dir.string() << ": " << ec.message() << "\n";
      return kExitFailure;
    }
  }

  const Locations where = locate();
  if (where.repo.empty()) {
    err << "error: the kindling repository (examples/) was not found; set KINDLING_HOME\n";
    return kExitFailure;
  }
  std::string document = "{}";
  if (std::find(opts.workloads.begin(), opts.workloads.end(), "json") != opts.workloads.end()) {
    auto doc = readWholeFile((where.repo / "examples" / "data" / "document.json").string());
    if (!doc) {
      err << "error: the json workload's document: " << doc.error().message() << "\n";
      return kExitFailure;
    }
    document = std::move(*doc);
  }

  DaemonSession session(hooks);
  if (auto ok = session.open(endpoint_url, "kindling-bench", out); !ok) {
    err << "error: " << ok.error().message() << "\n";
    return kExitFailure;
  }
  HttpClient& client = session.client();

  const std::vector<std::string> runtimes =
      opts.runtimes.empty() ? defaultRuntimes() : opts.runtimes;
  lab::BenchResults results;
  lab::fillHostInfo(results.meta);
  results.meta.kindling_version = KINDLING_VERSION;
  results.meta.endpoint = client.url();
  results.meta.cold_per_cell = opts.cold;
  results.meta.warm_per_cell = opts.warm;
  results.meta.memory_mb = opts.memory_mb;
  results.meta.workloads = opts.workloads;
  results.pricing = *pricing;

  const int64_t per_cell = opts.cold + opts.warm;
  const int64_t cells_total = static_cast<int64_t>(runtimes.size() * opts.memory_mb.size() *
                                                   opts.workloads.size());
  out << "Measuring " << runtimes.size() << " runtime(s) x " << opts.memory_mb.size()
      << " memory size(s) x " << opts.workloads.size() << " workload(s): " << opts.cold
      << " cold + " << opts.warm << " warm invocations per cell\n";
  out.flush();
  Progress progress(err, cells_total * per_cell, ::isatty(STDERR_FILENO) == 1);
  bool any_error = false;
  std::vector<std::string> skipped;

  for (const std::string& runtime : runtimes) {
    bool runtime_ok = true;
    bool measured_any = false;
    for (const std::string& workload : opts.workloads) {
      auto src = sourceFor(runtime, workload, where, document);
      std::string zip;
      if (src) {
        auto z = loadCodeZip(src->code.string());
        if (!z) {
          src = tl::unexpected(std::move(z.error()));
        } else {
          zip = std::move(*z);
        }
      }
      for (int memory : opts.memory_mb) {
        if (!runtime_ok || !src) {
          progress.advance(per_cell, runtime);
          continue;
        }
        lab::Cell cell;
        cell.runtime = opts.snapstart ? runtime + "+snapstart" : runtime;
        cell.runtime_id = src->runtime_id;
        cell.workload = workload;
        cell.memory_mb = memory;
        std::string why;
        const CellOutcome outcome = runCell(client, cell, *src, zip, opts, progress, why);
        if (outcome == CellOutcome::RuntimeUnavailable) {
          runtime_ok = false;
          skipped.push_back(runtime + ": " + why);
          progress.line("skipped " + runtime + ": " + why);
          progress.advance(per_cell, runtime);
          continue;
        }
        if (outcome == CellOutcome::Failed) {
          cell.notes.push_back("not measured: " + why);
          progress.advance(per_cell, runtime);
        }
        const lab::CellStats st = lab::cellStats(cell, *pricing);
        any_error |= st.errors > 0 || outcome == CellOutcome::Failed;
        std::string summary = cell.runtime + " " + cell.workload + " " +
                              std::to_string(cell.memory_mb) + " MB: cold " +
                              fmtMs(st.cold_init_ms) + ", warm " + fmtMs(st.warm_duration_ms);
        if (st.errors > 0) summary += ", " + std::to_string(st.errors) + " error(s)";
        if (outcome == CellOutcome::Failed) summary += " (" + why + ")";
        progress.line(summary);
        measured_any = true;
        results.cells.push_back(std::move(cell));
      }
      if (!src && runtime_ok) {
        skipped.push_back(runtime + " " + workload + ": " + src.error().message());
        progress.line("skipped " + runtime + " " + workload + ": " + src.error().message());
      }
    }
    if (measured_any) results.meta.runtimes.push_back(runtime);
  }
  progress.finish();

  if (reference) results.compare = lab::filterTo(*reference, results.meta.runtimes);
  const json doc = lab::toJson(results);
  const std::string html = report::renderBenchHtml(doc);
  for (const auto& [file, data] : {std::pair<std::string, std::string>{"results.json", doc.dump(1)},
                                   {"results.csv", lab::toCsv(results)},
                                   {"report.html", html}}) {
    if (auto ok = writeTextFile(out_dir / file, data); !ok) {
      err << "error: " << ok.error().message() << "\n";
      return kExitFailure;
    }
  }
  out << "\n" << lab::renderTable(results);
  if (!skipped.empty()) {
    out << "\nNot measured:\n";
    for (const std::string& s : skipped) out << "  " << s << "\n";
  }
  out << "\nWrote " << (out_dir / "results.json").string() << ", results.csv and report.html\n";
  if (results.cells.empty()) {
    err << "error: nothing could be measured\n";
    return kExitFailure;
  }
  return any_error ? kExitFunctionError : kExitOk;
}

}  // namespace kindling::cli
