// An invocation as the scheduler sees it: what the caller sent and how the caller is answered.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace kindling::scheduler {

struct InvokeResult {
  std::string payload;             // the function's response, or the error JSON
  std::string content_type = "application/json";
  bool function_error = false;     // X-Amz-Function-Error: Unhandled
  std::string error_type;          // errorType for metrics ("" on success)
  std::string log_tail;            // this invocation's log (START..REPORT), when asked for
  bool cold = false;
  std::optional<double> init_duration_ms;
  double duration_ms = 0;
  int max_memory_used_mb = 0;
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
