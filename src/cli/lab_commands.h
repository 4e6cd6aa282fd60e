// The performance lab on the command line:
//   kindling bench   runtimes x memory sizes x workloads on the local engine: N cold starts (each
//                    a real new environment) and M warm invokes per cell, read back from the
//                    REPORT lines; terminal table + results.json/.csv + a self-contained HTML report
//   kindling tune    the local AWS Lambda Power Tuning: one function swept over memory sizes,
//                    cost/speed/balanced recommendation, optionally applied
//   kindling report  re-renders the HTML of a saved results.json or tune.json
// The measuring and the model live in src/lab (statistics, prices, strategies), the HTML in
// src/report; this file only drives the daemon through its AWS API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace CLI {
class App;
}

namespace kindling::cli {

struct Console;

// Prices: the architecture's AWS list price unless overridden.
struct PriceOptions {
  std::string architecture = "x86_64";
  std::optional<double> gb_second_usd;  // --price-gb-second
  std::optional<double> request_usd;    // --price-request (per request, USD)
};

struct BenchOptions {
  std::vector<std::string> runtimes;  // empty = every runtime the catalogue knows
  std::vector<int> memory_mb = {128, 512, 1024, 1769, 3008};
  std::vector<std::string> workloads = {"hello", "cpu", "json", "heavy-init"};
  int cold = 5;
  int warm = 20;
  std::string out;      // "" = ./kindling-bench-<UTC timestamp>
  std::string compare;  // lambda-perf last.json, "" = none
  PriceOptions prices;
  bool keep = false;    // keep the bench functions (default: delete each after its cell)
  // SnapStart on published versions: each cold sample publishes a version (its snapshot is
  // taken then) and invokes it; cells are labelled "<runtime>+snapstart".
  bool snapstart = false;
  // Wait after CreateFunction before the first sample, so that what a new function prepares in
  // the background (fast start: its runtime's zygote, a Node bootstrap snapshot) is ready, as
  // clients on AWS wait for a new function's State to become Active. 0 = none.
  int settle_ms = 1000;
};

struct TuneOptions {
  std::string function;
  std::vector<int> memory_mb = {128, 256, 512, 1024, 1536, 1769, 3008};
  int invocations = 10;
  std::string payload = "{}";  // JSON text, @file or @-
  std::string strategy = "balanced";
  double weight = 0.5;
  double discard = 0.2;        // Power Tuning's discardTopBottom
  std::string out;             // "" = no files
  bool apply = false;
  PriceOptions prices;
};

struct ReportOptions {
  std::string input;  // results.json or tune.json
  std::string out;    // "" = the input's directory
};

enum class LabCommand { None, Bench, Tune, Report };

struct LabOptions {
  LabCommand command = LabCommand::None;
  BenchOptions bench;
  TuneOptions tune;
  ReportOptions report;
};

// Registers `bench`, `tune` and `report` on `app`; `opts.command` says which one parsed (after
// app.parse). Not thread-safe (CLI11 setup).
void addLabCommands(CLI::App& app, LabOptions& opts);

// `bench`: uses the daemon at endpoint_url or an embedded one. Exit 0 when every cell produced
// data, 1 when some invocations failed (still reported), 2 on usage/transport errors.
int runBench(const std::string& endpoint_url, const BenchOptions& opts, const CliHooks& hooks,
             Console console);
// `tune`: exit 0 with a recommendation, 2 when none could be made.
int runTune(const std::string& endpoint_url, const TuneOptions& opts, const CliHooks& hooks,
            Console console);
// `report`: no daemon involved.
int runReport(const ReportOptions& opts, Console console);

}  // namespace kindling::cli
