// Client-side commands for asynchronous invocation: `invoke --invocation-type Event|DryRun`
// (alias --async) and `queue receive|list`, which read the daemon's local SQS-style queues
// (where SQS destinations and dead-letter queues deliver).
#pragma once

#include "cli/commands.h"
#include "cli/options.h"

namespace kindling::cli {

// `invoke --invocation-type Event|DryRun`: prints the request id of the queued event (Event) or
// "dry run ok". Not thread-safe (shares the client).
int runInvokeAsync(HttpClient& client, const InvokeOptions& opts, Console console);
// `queue receive NAME [...]` prints the received messages as JSON; `queue list` prints a table.
// Not thread-safe (shares the client).
int runQueue(HttpClient& client, const QueueOptions& opts, Console console);

// The receive request body. Pure; thread-safe.
std::string buildQueueReceiveBody(const QueueOptions& opts);

}  // namespace kindling::cli
