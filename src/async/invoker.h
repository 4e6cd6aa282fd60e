// The seam between asynchronous delivery (src/async) and the invoke path (src/api): the async
// workers hand an event to a FunctionInvoker, which resolves the function and qualifier against
// the live configuration, applies concurrency limits and runs it on the engine, exactly like a
// synchronous Invoke. Keeping this an interface keeps src/async free of the API layer (the link
// graph only allows api -> async) and lets unit tests drive the workers with a scripted invoker.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "store/function.h"

namespace kindling::async {

struct InvokeOutcome {
  enum class Kind {
    Success,        // the function returned a result
    FunctionError,  // the function failed (handler error, crash, timeout, ...): retried
    Throttled,      // no concurrency left (429): the event waits and is retried, attempts kept
    NotFound,       // the function/qualifier no longer exists: the event is dropped (logged)
    Failed,         // kindling could not run it (5xx-like): retried like a throttle
  };
  Kind kind = Kind::Success;
  std::string payload;           // the function's response or error object (JSON)
  std::string executed_version;  // "$LATEST" or "N"
  std::string function_error;    // "Unhandled" on FunctionError, else ""
  std::string reason;            // human-readable cause for Throttled/NotFound/Failed
};

// What async delivery needs to know about the invoked function (resolved per attempt, so a
// configuration change applies to events already queued, as on Lambda).
struct AsyncTarget {
  std::string function_arn;                      // qualified ARN as invoked ("...:fn:$LATEST")
  store::EventInvokeConfig config;               // the qualifier's config or Lambda's defaults
  std::string dead_letter_arn;                   // the function's DeadLetterConfig, "" if none
  std::optional<int> reserved_concurrency;       // 0 sends events straight to the failure path
};

class FunctionInvoker {
 public:
  virtual ~FunctionInvoker() = default;
  // Resolves function[:qualifier] (qualifier "" = $LATEST) for async delivery; NotFound.
  // Thread-safe.
  virtual Result<AsyncTarget> asyncTarget(const std::string& function,
                                          const std::string& qualifier) = 0;
  // Runs one invocation; `done` is called exactly once, on any thread. Thread-safe.
  virtual void invokeAsyncEvent(const std::string& function, const std::string& qualifier,
                                std::string payload, std::string request_id,
                                std::function<void(InvokeOutcome)> done) = 0;
};

}  // namespace kindling::async
