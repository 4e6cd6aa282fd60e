#include "cli/cli.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "cli/async_commands.h"
#include "cli/commands.h"
#include "cli/control_commands.h"
#include "cli/demo.h"
#include "cli/http_client.h"
#include "cli/lab_commands.h"
#include "cli/layer_commands.h"
#include "cli/options.h"

namespace kindling::cli {

namespace {

// Set by SIGINT while `logs --follow` runs. A signal handler can only reach static storage, so
// this is the one process-wide flag; lock-free atomics are async-signal-safe.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void onSigint(int) { g_interrupted.store(true, std::memory_order_relaxed); }

// Installs onSigint for the lifetime of the object and restores the previous handler after.
class SigintScope {
 public:
  SigintScope() {
    struct sigaction sa {};
    sa.sa_handler = onSigint;
    sigemptyset(&sa.sa_mask);
    installed_ = ::sigaction(SIGINT, &sa, &previous_) == 0;
  }
  ~SigintScope() {
    if (installed_) ::sigaction(SIGINT, &previous_, nullptr);
  }
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

}  // namespace

int runCli(int argc, char** argv, const CliHooks& hooks) {
  ParseOutcome parsed = parseCommandLine(argc, argv, std::cout, std::cerr);
  if (!parsed.options) return parsed.exit_code;
  const CliOptions& opts = *parsed.options;
  Console console{std::cout, std::cerr};

  if (opts.command == Command::Serve) {
    if (!hooks.serve) {
      std::cerr << "error: this build of kindling cannot run the daemon\n";
      return kExitFailure;
    }
    return hooks.serve(opts.serve);
  }

  const std::string endpoint_url =
      resolveEndpoint(opts.endpoint_flag, std::getenv(kEndpointEnvVar));
  if (opts.command == Command::Demo) return runDemo(endpoint_url, hooks, console);
  if (opts.command == Command::Lab) {
    switch (opts.lab.command) {
      case LabCommand::Bench:
        return runBench(endpoint_url, opts.lab.bench, hooks, console);
      case LabCommand::Tune:
        return runTune(endpoint_url, opts.lab.tune, hooks, console);
      case LabCommand::Report:
        return runReport(opts.lab.report, console);
      case LabCommand::None:
        break;
    }
    return kExitFailure;
  }

  auto endpoint = parseEndpointUrl(endpoint_url);
  if (!endpoint) {
    std::cerr << "error: " << endpoint.error().message() << "\n";
    return kExitFailure;
  }
  HttpClient client(std::move(*endpoint));
  switch (opts.command) {
    case Command::Deploy:
      return runDeploy(client, opts.deploy, console);
    case Command::Invoke:
      if (opts.invoke.invocation_type != "RequestResponse") {
        return runInvokeAsync(client, opts.invoke, console);
      }
      return runInvoke(client, opts.invoke, console);
    case Command::Queue:
      return runQueue(client, opts.queue, console);
    case Command::Layer:
      return runLayer(client, opts.layer, console);
    case Command::Control:
      return runControl(client, opts.control, console);
    case Command::List:
      return runList(client, console);
    case Command::Remove:
      return runRemove(client, opts.remove_name, console);
    case Command::Logs: {
      g_interrupted.store(false);
      SigintScope sigint;
      return runLogs(client, opts.logs, g_interrupted, console);
    }
    case Command::Serve:
    case Command::Demo:
    case Command::Lab:
      break;  // handled above
  }
  return kExitFailure;
}

}  // namespace kindling::cli
