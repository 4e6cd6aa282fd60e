// The client-side subcommands (deploy, invoke, ls, rm, logs): each turns its options into AWS
// Lambda API calls on an HttpClient and renders the answer. Exit codes: 0 ok, 1 the function
// itself failed (X-Amz-Function-Error), 2 usage, transport or API error.
#pragma once

#include <atomic>
#include <iosfwd>
#include <string>
#include <string_view>

#include "cli/http_client.h"
#include "cli/options.h"
#include "common/result.h"

namespace kindling::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFunctionError = 1;
inline constexpr int kExitFailure = 2;

struct Console {
  std::ostream& out;
  std::ostream& err;
};

// Reads deployment code: a directory is zipped (store::zipDirectory), a file must be a zip.
// Thread-safe.
Result<std::string> loadCodeZip(const std::string& path);

// POST /2015-03-31/functions (CreateFunction). Not thread-safe (shares the client).
Result<HttpResponse> createFunction(HttpClient& client, const DeployOptions& spec,
                                    std::string_view zip);
// DELETE /2015-03-31/functions/NAME. Not thread-safe (shares the client).
Result<HttpResponse> deleteFunction(HttpClient& client, std::string_view name);
// POST .../invocations with X-Amz-Log-Type: Tail. Not thread-safe (shares the client).
Result<HttpResponse> invokeFunction(HttpClient& client, std::string_view name,
                                    std::string payload, std::string_view qualifier);

// Prints "error: cannot reach kindling at URL: ..." for a transport failure; returns 2.
int reportTransportError(const HttpClient& client, const Error& error, std::ostream& err);

// `deploy`. Not thread-safe.
int runDeploy(HttpClient& client, const DeployOptions& opts, Console console);
// `invoke`. Not thread-safe.
int runInvoke(HttpClient& client, const InvokeOptions& opts, Console console);
// `ls`. Not thread-safe.
int runList(HttpClient& client, Console console);
// `rm`. Not thread-safe.
int runRemove(HttpClient& client, std::string_view name, Console console);
// `logs [--follow]`: prints every stream, then (with follow) polls every 250 ms until `stop`
// becomes true. Not thread-safe; `stop` may be set from a signal handler.
int runLogs(HttpClient& client, const LogsOptions& opts, const std::atomic<bool>& stop,
            Console console);

}  // namespace kindling::cli
