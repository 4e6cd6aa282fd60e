// An invocation as the scheduler sees it: what the caller sent and how the caller is answered.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "store/function.h"

namespace kindling::scheduler {

// One runnable configuration: $LATEST at some revision, or a published version. Environments
// are pooled per (function name, version) and replaced when the revision changes.
struct FunctionTarget {
  std::shared_ptr<const store::FunctionConfig> config;
  std::filesystem::path code_dir;  // the extracted package (mounted at /var/task)
  std::filesystem::path opt_dir;   // the function's layers merged in order (/opt); "" if none
};

struct InvokeResult {
  std::string payload;             // the function's response, or the error JSON
  std::string content_type = "application/json";
  bool function_error = false;     // X-Amz-Function-Error: Unhandled
  std::string error_type;          // errorType for metrics ("" on success)
  std::string log_tail;            // this invocation's log (START..REPORT), when asked for
  bool cold = false;
  std::optional<double> init_duration_ms;
  std::optional<double> restore_duration_ms;  // SnapStart: instead of init_duration_ms
  double duration_ms = 0;
  int max_memory_used_mb = 0;
  // No environment could be admitted (the host memory budget is exhausted even after evicting
  // idle environments): the API answers 429 TooManyRequestsException; nothing ran.
  bool throttled = false;
  // Why, for the 429's message (e.g. the daemon is out of file descriptors); empty: Lambda's
  // "Rate Exceeded.".
  std::string throttle_message;
  std::string executed_version;    // "$LATEST" or "N" (X-Amz-Executed-Version)
};

struct InvokeRequest {
  std::string request_id;
  std::string payload;
  std::string invoked_function_arn;
  std::string client_context;      // decoded JSON text or empty
  std::string cognito_identity;
  std::string trace_id;
  bool want_log_tail = false;
  // Called exactly once, from an engine thread.
  std::function<void(InvokeResult&&)> done;
};

}  // namespace kindling::scheduler
