// The `kindling` executable: the CLI (kd_cli) with the daemon (kd_api) injected through hooks.
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "api/daemon.h"
#include "cli/cli.h"
#include "common/logging.h"

namespace {

using kindling::api::Daemon;
using kindling::api::DaemonOptions;

kindling::Result<DaemonOptions> toDaemonOptions(const kindling::cli::ServeOptions& serve) {
  DaemonOptions options;
  const auto colon = serve.listen.rfind(':');
  if (colon == std::string::npos) {
    return kindling::makeError(kindling::ErrorCode::InvalidArgument,
                               "--listen must be HOST:PORT, got '" + serve.listen + "'");
  }
  options.host = serve.listen.substr(0, colon);
  options.port = static_cast<uint16_t>(std::stoi(serve.listen.substr(colon + 1)));
  options.data_dir = serve.data_dir;
  options.keep_alive_s = serve.keep_alive_s;
  options.freeze_after_ms = serve.freeze_after_ms;
  options.async_retry_delay_ms = serve.async_retry_delay_ms;
  options.async_max_in_flight = serve.async_max_in_flight;
  options.account_concurrency = serve.account_concurrency;
  options.memory_budget_mb = serve.memory_budget_mb;
  // The flag, else KINDLING_FAST_START=on|1|off|0 (a whole test suite runs with it off), else
  // on.
  const char* fast_env = std::getenv("KINDLING_FAST_START");
  const std::string fast = !serve.fast_start.empty()      ? serve.fast_start
                           : fast_env != nullptr && *fast_env ? std::string(fast_env)
                                                              : std::string("on");
  options.fast_start = fast == "on" || fast == "1";
  if (const char* mode = std::getenv("KINDLING_SANDBOX"); mode && *mode) options.sandbox = mode;
  return options;
}

int serve(const kindling::cli::ServeOptions& serve_options) {
  kindling::setLogLevel(serve_options.log_level);
  auto options = toDaemonOptions(serve_options);
  if (!options) {
    spdlog::error("{}", options.error().message());
    return 2;
  }
  // Block the stop signals in every thread; this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto daemon = Daemon::start(*options);
  if (!daemon) {
    spdlog::error("kindling serve: {}", daemon.error().message());
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*daemon)->stop();
  spdlog::info("stopped");
  return 0;
}

std::mutex embedded_mu;
std::unique_ptr<Daemon> embedded;

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  kindling::cli::CliHooks hooks;
  hooks.serve = serve;
  hooks.start_embedded = [](const kindling::cli::ServeOptions& serve_options)
      -> kindling::Result<std::string> {
    kindling::setLogLevel(serve_options.log_level);
    auto options = toDaemonOptions(serve_options);
    if (!options) return tl::unexpected(std::move(options.error()));
    auto daemon = Daemon::start(*options);
    if (!daemon) return tl::unexpected(std::move(daemon.error()));
    std::lock_guard lock(embedded_mu);
    embedded = std::move(*daemon);
    return embedded->endpoint();
  };
  hooks.stop_embedded = [] {
    std::lock_guard lock(embedded_mu);
    embedded.reset();
  };
  return kindling::cli::runCli(argc, argv, hooks);
}
