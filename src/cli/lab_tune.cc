// `kindling tune` (the local AWS Lambda Power Tuning) and `kindling report`.
//
// tune: for each memory size, UpdateFunctionConfiguration(MemorySize) -- which replaces the
// function's environments, so the first invocation at each size is a cold start, as in Power
// Tuning -- then N invocations with the payload, sequentially. Averages are Power Tuning's
// trimmed means (the slowest and fastest `--discard` fraction left out, which also drops the
// cold start for N >= 5); the cost is the average billed duration at that size plus the request
// price. The recommendation follows the strategy; the original memory size is restored unless
// --apply sets the recommended one.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "cli/commands.h"
#include "cli/daemon_session.h"
#include "cli/lab_commands.h"
#include "cli/lab_driver.h"
#include "cli/options.h"
#include "lab/results.h"
#include "lab/tune.h"
#include "report/html_report.h"


namespace kindling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

int runTune(const std::string& endpoint_url, const TuneOptions& opts, const CliHooks& hooks,
            Console console) {
  std::ostream& out = console.out;
  std::ostream& err = console.err;
  auto pricing = pricingFrom(opts.prices);
  auto strategy = lab::parseStrategy(opts.strategy);
  auto payload = loadPayload(opts.payload);
  for (const Error* e : {pricing ? nullptr : &pricing.error(),
                         strategy ? nullptr : &strategy.error(),
                         payload ? nullptr : &payload.error()}) {
    if (e != nullptr) {
      err << "error: " << e->message() << "\n";
      return kExitFailure;
    }
  }
  {
    const json parsed = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      err << "error: --payload is not valid JSON\n";
      return kExitFailure;
    }
  }

  DaemonSession session(hooks);
  if (auto ok = session.open(endpoint_url, "kindling-tune", out); !ok) {
    err << "error: " << ok.error().message() << "\n";
    return kExitFailure;
  }
  HttpClient& client = session.client();
  auto config = getConfiguration(client, opts.function);
  if (!config) {
    err << "error: " << config.error().message() << "\n";
    return kExitFailure;
  }
  const int original_memory = config->value("MemorySize", 128);

  lab::TuneResult result;
  {
    lab::BenchMeta host;
    lab::fillHostInfo(host);
    result.meta.generated_at = host.generated_at;
    result.meta.host = host.host;
    result.meta.cpus = host.cpus;
  }
  result.meta.kindling_version = KINDLING_VERSION;
  result.meta.endpoint = client.url();
  result.meta.function = opts.function;
  result.meta.payload = *payload;
  result.meta.invocations = opts.invocations;
  result.meta.original_memory_mb = original_memory;
  result.meta.discard_top_bottom = opts.discard;
  result.pricing = *pricing;
  result.strategy = *strategy;
  result.weight = opts.weight;

  std::vector<int> sizes = opts.memory_mb;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  out << "Tuning " << opts.function << ": " << sizes.size() << " memory size(s) x "
      << opts.invocations << " invocation(s), strategy " << opts.strategy << "\n";
  out.flush();
  Progress progress(err, static_cast<int64_t>(sizes.size()) * opts.invocations,
                    ::isatty(STDERR_FILENO) == 1);
  int exit_code = kExitOk;
  for (int memory : sizes) {
    lab::TunePoint point;
    point.memory_mb = memory;
    const std::string label = std::to_string(memory) + " MB";
    if (auto ok = updateConfiguration(client, opts.function, json{{"MemorySize", memory}}); !ok) {
      err << "error: " << ok.error().message() << "\n";
      exit_code = kExitFailure;
      break;
    }
    for (int i = 0; i < opts.invocations; ++i) {
      point.samples.push_back(measureInvoke(client, opts.function, *payload, i == 0));
      progress.advance(1, label);
    }
    lab::computeTunePoint(point, *pricing, opts.discard);
    std::ostringstream line;
    line.setf(std::ios::fixed);
    line.precision(2);
    line << label << ": average " << point.average_duration_ms << " ms, $"
         << std::setprecision(10) << point.average_cost_usd << " per invocation";
    if (point.errors > 0) line << ", " << point.errors << " error(s)";
    progress.line(line.str());
    result.points.push_back(std::move(point));
  }
  progress.finish();

  auto chosen = exit_code == kExitOk
                    ? lab::chooseTunePoint(result.points, result.strategy, result.weight)
                    : Result<size_t>(makeError(ErrorCode::Internal, "the sweep stopped early"));
  int target_memory = original_memory;
  if (chosen) {
    result.chosen = *chosen;
    if (opts.apply) target_memory = result.points[*chosen].memory_mb;
  }
  // Leave the function as asked: the recommendation applied, or its own size back.
  if (auto ok = updateConfiguration(client, opts.function, json{{"MemorySize", target_memory}});
      !ok) {
    err << "error: restoring MemorySize " << target_memory << ": " << ok.error().message()
        << "\n";
    return kExitFailure;
  }
  result.applied = chosen && opts.apply;
  if (!chosen) {
    err << "error: no recommendation: " << chosen.error().message() << "\n";
    return kExitFailure;
  }

  out << "\n" << lab::renderTuneTable(result);
  out << (result.applied ? "Applied: MemorySize is now " : "MemorySize left at ")
      << target_memory << " MB\n";
  if (!opts.out.empty()) {
    const fs::path dir(opts.out);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      err << "error: creating " << dir.string() << ": " << ec.message() << "\n";
      return kExitFailure;
    }
    const json doc = lab::toJson(result);
    for (const auto& [file, data] :
         {std::pair<std::string, std::string>{"tune.json", doc.dump(1)},
          {"tune.html", report::renderTuneHtml(doc)}}) {
      if (auto ok = writeTextFile(dir / file, data); !ok) {
        err << "error: " << ok.error().message() << "\n";
        return kExitFailure;
      }
    }
    out << "Wrote " << (dir / "tune.json").string() << " and tune.html\n";
  }
  return kExitOk;
}

int runReport(const ReportOptions& opts, Console console) {
  auto text = readWholeFile(opts.input);
  if (!text) {
    console.err << "error: " << text.error().message() << "\n";
    return kExitFailure;
  }
  const json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    console.err << "error: " << opts.input << " is not a JSON object\n";
    return kExitFailure;
  }
  const std::string schema = doc.value("schema", "");
  std::string file;
  std::string html;
  if (schema == "kindling.bench/1") {
    auto results = lab::benchResultsFromJson(doc);
    if (!results) {
      console.err << "error: " << opts.input << ": " << results.error().message() << "\n";
      return kExitFailure;
    }
    file = "report.html";
    html = report::renderBenchHtml(doc);
  } else if (schema == "kindling.tune/1") {
    auto tune = lab::tuneResultFromJson(doc);
    if (!tune) {
      console.err << "error: " << opts.input << ": " << tune.error().message() << "\n";
      return kExitFailure;
    }
    file = "tune.html";
    html = report::renderTuneHtml(doc);
  } else {
    console.err << "error: " << opts.input
                << ": not a kindling bench or tune result (schema kindling.bench/1 or "
                   "kindling.tune/1)\n";
    return kExitFailure;
  }
  fs::path dir = opts.out.empty() ? fs::path(opts.input).parent_path() : fs::path(opts.out);
  if (dir.empty()) dir = ".";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (auto ok = writeTextFile(dir / file, html); !ok) {
    console.err << "error: " << ok.error().message() << "\n";
    return kExitFailure;
  }
  console.out << "Wrote " << (dir / file).string() << "\n";
  return kExitOk;
}

}  // namespace kindling::cli
