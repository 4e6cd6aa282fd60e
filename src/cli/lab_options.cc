// Command-line parsing of `bench`, `tune` and `report` (see lab_commands.h).
#include <CLI/CLI.hpp>

#include "cli/lab_commands.h"

namespace kindling::cli {

namespace {

void addPriceOptions(CLI::App* cmd, PriceOptions& prices) {
  cmd->add_option("--architecture", prices.architecture,
                  "x86_64 or arm64: which AWS list price applies")
      ->capture_default_str()
      ->check(CLI::IsMember({"x86_64", "arm64"}));
  cmd->add_option("--price-gb-second", prices.gb_second_usd,
                  "USD per GB-second (default: the architecture's AWS list price)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--price-request", prices.request_usd,
                  "USD per request (default: AWS's $0.20 per million)")
      ->check(CLI::NonNegativeNumber);
}

// Valid Lambda MemorySize values: 128..10240 MB.
const CLI::Range kMemoryRange(128, 10240);

}  // namespace

void addLabCommands(CLI::App& app, LabOptions& opts) {
  CLI::App* bench = app.add_subcommand(
      "bench", "measure cold starts, warm latency, memory and cost per runtime x memory x "
               "workload (starts a daemon if none answers)");
  bench->add_option("--runtimes", opts.bench.runtimes,
                    "runtimes (python3.12, nodejs22.x, ruby3.1, java17, go, rust, cpp, ...; "
                    "default: every installed one)")
      ->delimiter(',');
  bench->add_option("--memory", opts.bench.memory_mb, "memory sizes in MB")
      ->delimiter(',')
      ->capture_default_str()
      ->check(kMemoryRange);
  bench->add_option("--workloads", opts.bench.workloads, "hello, cpu, json, heavy-init")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"hello", "cpu", "json", "heavy-init"}));
  bench->add_option("--cold", opts.bench.cold, "cold starts per cell (each a new environment)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  bench->add_option("--warm", opts.bench.warm, "warm invocations per cell")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  bench->add_option("--out", opts.bench.out,
                    "output directory (default: ./kindling-bench-<UTC time>)");
  bench->add_option("--compare", opts.bench.compare,
                    "AWS's published figures beside the local ones (lambda-perf last.json)");
  bench->add_flag("--keep", opts.bench.keep, "keep the bench functions deployed afterwards");
  bench->add_option("--settle-ms", opts.bench.settle_ms,
                    "wait after creating a function before its first sample (its zygote or "
                    "Node snapshot is prepared meanwhile, as AWS clients wait for State Active)")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  bench->add_flag("--snapstart", opts.bench.snapstart,
                  "SnapStart on published versions: each cold sample publishes a version and "
                  "invokes it (restore instead of init where the daemon snapshots)");
  addPriceOptions(bench, opts.bench.prices);
  bench->callback([&opts] { opts.command = LabCommand::Bench; });

  CLI::App* tune = app.add_subcommand(
      "tune", "sweep a function over memory sizes and recommend one (AWS Lambda Power Tuning)");
  tune->add_option("function", opts.tune.function, "function name")->required();
  tune->add_option("--memory", opts.tune.memory_mb, "memory sizes in MB")
      ->delimiter(',')
      ->capture_default_str()
      ->check(kMemoryRange);
  tune->add_option("--invocations", opts.tune.invocations, "invocations per memory size")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  tune->add_option("--payload", opts.tune.payload, "JSON text, @file or @- for stdin")
      ->capture_default_str();
  tune->add_option("--strategy", opts.tune.strategy, "cost, speed or balanced")
      ->capture_default_str()
      ->check(CLI::IsMember({"cost", "speed", "balanced"}));
  tune->add_option("--weight", opts.tune.weight,
                   "balanced only: 0 = fastest .. 1 = cheapest (Power Tuning's balancedWeight)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  tune->add_option("--discard", opts.tune.discard,
                   "fraction of the slowest and of the fastest results left out of the averages")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.49));
  tune->add_option("--out", opts.tune.out, "write DIR/tune.json and DIR/tune.html");
  tune->add_flag("--apply", opts.tune.apply,
                 "set the recommended memory size (default: restore the original one)");
  addPriceOptions(tune, opts.tune.prices);
  tune->callback([&opts] { opts.command = LabCommand::Tune; });

  CLI::App* report = app.add_subcommand(
      "report", "render the HTML report of a saved results.json (bench) or tune.json (tune)");
  report->add_option("input", opts.report.input, "results.json or tune.json")->required();
  report->add_option("--out", opts.report.out, "output directory (default: the input's)");
  report->callback([&opts] { opts.command = LabCommand::Report; });
}

}  // namespace kindling::cli
