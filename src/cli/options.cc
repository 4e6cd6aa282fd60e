#include "cli/options.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include <CLI/CLI.hpp>

namespace kindling::cli {

namespace {

constexpr int kUsageExitCode = 2;

Status collectKeyValues(const std::vector<std::string>& args, std::string_view flag,
                        std::map<std::string, std::string>& into) {
  for (const std::string& arg : args) {
    auto kv = parseKeyValue(arg);
    if (!kv) return tl::unexpected(std::move(kv.error()).wrap(std::string(flag)));
    into.insert_or_assign(std::move(kv->first), std::move(kv->second));
  }
  return {};
}

}  // namespace

ParseOutcome parseCommandLine(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err) {
  CliOptions opts;
  CLI::App app{"kindling: a Lambda-compatible function engine", "kindling"};
  app.fallthrough();  // global options (--endpoint) may also follow the subcommand
  app.require_subcommand(1);
  std::string endpoint;
  app.add_option("--endpoint", endpoint,
                 "daemon URL (default: $KINDLING_ENDPOINT, else http://127.0.0.1:9000)");

  CLI::App* serve = app.add_subcommand("serve", "run the daemon in the foreground");
  serve->add_option("--listen", opts.serve.listen, "HOST:PORT to listen on")
      ->capture_default_str();
  serve->add_option("--data-dir", opts.serve.data_dir, "state directory (default: built-in)");
  serve->add_option("--log-level", opts.serve.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  serve->add_option("--keep-alive", opts.serve.keep_alive_s,
                    "seconds an idle environment is kept warm")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--freeze-after", opts.serve.freeze_after_ms,
                    "milliseconds of idleness after which an environment is frozen (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--async-retry-delay-ms", opts.serve.async_retry_delay_ms,
                    "delay before the 2nd attempt of a failed Event invocation (the 3rd waits "
                    "twice as long; throttle backoff scales with it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve->add_option("--async-max-in-flight", opts.serve.async_max_in_flight,
                    "Event invocations running at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve->add_option("--account-concurrency", opts.serve.account_concurrency,
                    "account concurrency limit (Lambda's ConcurrentExecutions; 100 of it always "
                    "stays unreserved)")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  serve->add_option("--memory-budget-mb", opts.serve.memory_budget_mb,
                    "host memory environments may use, MB (-1: 80% of RAM; 0: no budget)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40));
  serve->add_option("--fast-start", opts.serve.fast_start,
                    "on: start Python and Ruby environments by forking a pre-initialised "
                    "interpreter (a runtime zygote; SnapStart versions: their function "
                    "snapshot); off: exec every runtime (per function: tag "
                    "kindling:fast-start=false; default: $KINDLING_FAST_START, else on)")
      ->check(CLI::IsMember({"on", "off"}));

  CLI::App* deploy =
      app.add_subcommand("deploy", "create or update a function from a directory or zip");
  std::vector<std::string> env_args;
  std::vector<std::string> tag_args;
  deploy->add_option("name", opts.deploy.name, "function name")->required();
  deploy->add_option("--runtime", opts.deploy.runtime, "e.g. python3.12, provided.al2023")
      ->required();
  deploy->add_option("--handler", opts.deploy.handler, "e.g. app.handler")->required();
  deploy->add_option("--code", opts.deploy.code, "code directory or .zip file")->required();
  deploy->add_option("--memory", opts.deploy.memory_mb, "memory size in MB")
      ->capture_default_str();
  deploy->add_option("--timeout", opts.deploy.timeout_s, "timeout in seconds")
      ->capture_default_str();
  deploy->add_option("--env", env_args, "environment variable KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  deploy->add_option("--tag", tag_args, "tag KEY=VALUE (repeatable)")->allow_extra_args(false);
  deploy->add_flag("--replace", opts.deploy.replace,
                   "delete the function first if it exists (default: update it in place)");
  deploy->add_flag("--publish", opts.deploy.publish, "publish a version after the deploy");

  CLI::App* invoke = app.add_subcommand("invoke", "invoke a function synchronously");
  invoke->add_option("name", opts.invoke.name, "function name")->required();
  invoke->add_option("--payload", opts.invoke.payload, "JSON text, @file or @- for stdin")
      ->capture_default_str();
  invoke->add_option("--qualifier", opts.invoke.qualifier, "version or alias");
  auto* invocation_type =
      invoke->add_option("--invocation-type", opts.invoke.invocation_type,
                         "RequestResponse (wait for the result), Event (queue it, 202) or DryRun")
          ->capture_default_str()
          ->check(CLI::IsMember({"RequestResponse", "Event", "DryRun"}));
  bool async_flag = false;
  invoke->add_flag("--async", async_flag, "same as --invocation-type Event")
      ->excludes(invocation_type);

  CLI::App* queue = app.add_subcommand("queue", "read the daemon's local SQS-style queues");
  queue->require_subcommand(1);
  CLI::App* queue_receive = queue->add_subcommand("receive", "receive messages from a queue");
  queue_receive->add_option("name", opts.queue.name, "queue name or SQS queue ARN")->required();
  queue_receive->add_option("--max-number-of-messages", opts.queue.max_messages, "1-10")
      ->capture_default_str()
      ->check(CLI::Range(1, 10));
  queue_receive->add_option("--visibility-timeout", opts.queue.visibility_timeout_s,
                            "seconds received messages stay hidden")
      ->capture_default_str()
      ->check(CLI::Range(0, 43200));
  queue_receive->add_flag("--delete", opts.queue.delete_received,
                          "delete the messages as they are received");
  CLI::App* queue_list = queue->add_subcommand("list", "list queues with message counts");

  CLI::App* layer = addLayerCommand(app, opts.layer);
  addControlCommands(app, opts.control);  // publish, alias, concurrency
  addLabCommands(app, opts.lab);          // bench, tune, report

  CLI::App* list = app.add_subcommand("ls", "list functions");
  CLI::App* remove = app.add_subcommand("rm", "delete a function");
  remove->add_option("name", opts.remove_name, "function name")->required();

  CLI::App* logs = app.add_subcommand("logs", "print a function's log streams");
  logs->add_option("name", opts.logs.name, "function name")->required();
  logs->add_flag("-f,--follow", opts.logs.follow, "keep polling for new output until Ctrl-C");

  CLI::App* demo = app.add_subcommand(
      "demo", "deploy and invoke the bundled examples (starts a daemon if none answers)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return ParseOutcome{std::nullopt, code == 0 ? 0 : kUsageExitCode};
  }

  if (!endpoint.empty()) opts.endpoint_flag = endpoint;
  if (serve->parsed()) {
    opts.command = Command::Serve;
    if (auto ok = validateListenAddress(opts.serve.listen); !ok) {
      err << "error: --listen: " << ok.error().message() << "\n";
      return ParseOutcome{std::nullopt, kUsageExitCode};
    }
  } else if (deploy->parsed()) {
    opts.command = Command::Deploy;
    Status ok = collectKeyValues(env_args, "--env", opts.deploy.env);
    if (ok) ok = collectKeyValues(tag_args, "--tag", opts.deploy.tags);
    if (!ok) {
      err << "error: " << ok.error().message() << "\n";
      return ParseOutcome{std::nullopt, kUsageExitCode};
    }
  } else if (invoke->parsed()) {
    opts.command = Command::Invoke;
    if (async_flag) opts.invoke.invocation_type = "Event";
  } else if (queue->parsed()) {
    opts.command = Command::Queue;
    opts.queue.action = queue_list->parsed() ? QueueOptions::Action::List
                                             : QueueOptions::Action::Receive;
  } else if (layer->parsed()) {
    opts.command = Command::Layer;
  } else if (opts.control.action != ControlAction::None) {
    opts.command = Command::Control;
  } else if (opts.lab.command != LabCommand::None) {
    opts.command = Command::Lab;
  } else if (list->parsed()) {
    opts.command = Command::List;
  } else if (remove->parsed()) {
    opts.command = Command::Remove;
  } else if (logs->parsed()) {
    opts.command = Command::Logs;
  } else if (demo->parsed()) {
    opts.command = Command::Demo;
  } else {
    err << app.help();
    return ParseOutcome{std::nullopt, kUsageExitCode};
  }
  return ParseOutcome{std::move(opts), 0};
}

std::string resolveEndpoint(const std::optional<std::string>& flag, const char* env_value) {
  if (flag && !flag->empty()) return *flag;
  if (env_value != nullptr && *env_value != '\0') return env_value;
  return std::string(kDefaultEndpoint);
}

Result<std::pair<std::string, std::string>> parseKeyValue(std::string_view arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return makeError(ErrorCode::InvalidArgument,
                     "expected KEY=VALUE, got '" + std::string(arg) + "'");
  }
  return std::pair<std::string, std::string>(std::string(arg.substr(0, eq)),
                                             std::string(arg.substr(eq + 1)));
}

Result<std::string> loadPayload(std::string_view arg) {
  if (arg.empty() || arg.front() != '@') return std::string(arg);
  const std::string path(arg.substr(1));
  if (path == "-") {
    std::string data{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) return errnoError("read(stdin)");
    return data;
  }
  return readWholeFile(path);
}

Result<std::string> readWholeFile(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) return tl::unexpected(Error{ErrorCode::Io, ec.value(), "stat(\"" + path + "\")"});
  if (!std::filesystem::is_regular_file(status)) {
    return makeError(ErrorCode::InvalidArgument, "\"" + path + "\" is not a regular file");
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return errnoError("open(\"" + path + "\")");
  const std::streamoff size = in.tellg();
  if (size < 0) return errnoError("tellg(\"" + path + "\")");
  std::string data(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(data.data(), size)) return errnoError("read(\"" + path + "\")");
  return data;
}

Status validateListenAddress(std::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return makeError(ErrorCode::InvalidArgument,
                     "expected HOST:PORT, got '" + std::string(listen) + "'");
  }
  const std::string_view port = listen.substr(colon + 1);
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return makeError(ErrorCode::InvalidArgument,
                     "bad port in '" + std::string(listen) + "' (expected 0..65535)");
  }
  return {};
}

}  // namespace kindling::cli
