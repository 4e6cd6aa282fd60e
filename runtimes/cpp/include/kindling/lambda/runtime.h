// kindling's C++ function SDK: a handler is a function from Request to Response, and
// run_handler() is the whole runtime loop (GET /next, call the handler, POST the result) over the
// public Lambda Runtime API named by AWS_LAMBDA_RUNTIME_API, so the same binary runs on kindling,
// on AWS Lambda (provided.al2023) and under AWS's runtime interface emulator.
//
//   #include <kindling/lambda/runtime.h>
//   int main() {
//     return kindling::lambda::run_handler([](const kindling::lambda::Request& req) {
//       return kindling::lambda::Response::success(std::string(req.payload));
//     });
//   }
//
// Cost per invocation: no copy of the event (Request holds views into the receive buffer), one
// sendmsg() per post, no heap allocation in the loop beyond what the handler's Response holds.
// The names run_handler/Request/Response follow aws-lambda-cpp on purpose (porting a function is
// a rename), which is why run_handler is not camelCase. Handlers run on the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kindling/lambda/runtime_client.h"

namespace kindling::lambda {

// The function's static context, read once from the environment Lambda sets.
struct FunctionInfo {
  std::string function_name;      // AWS_LAMBDA_FUNCTION_NAME
  std::string function_version;   // AWS_LAMBDA_FUNCTION_VERSION
  std::int64_t memory_limit_mb = 0;  // AWS_LAMBDA_FUNCTION_MEMORY_SIZE (0 if unset)
  std::string log_group_name;     // AWS_LAMBDA_LOG_GROUP_NAME
  std::string log_stream_name;    // AWS_LAMBDA_LOG_STREAM_NAME

  // Reads the variables above. Thread-safe as long as nobody calls setenv concurrently.
  static FunctionInfo fromEnvironment();
};

// One invocation. Every view points into the runtime's receive buffer and is valid only while
// the handler runs: copy what must outlive it.
struct Request {
  std::string_view payload;           // the event, as sent (usually JSON)
  std::string_view request_id;        // Lambda-Runtime-Aws-Request-Id
  std::string_view function_arn;      // Lambda-Runtime-Invoked-Function-Arn (may be empty)
  std::string_view xray_trace_id;     // Lambda-Runtime-Trace-Id (may be empty)
  std::string_view client_context;    // Lambda-Runtime-Client-Context JSON (may be empty)
  std::string_view cognito_identity;  // Lambda-Runtime-Cognito-Identity JSON (may be empty)
  std::chrono::system_clock::time_point deadline{};  // epoch 0 if the runtime sent none
  const FunctionInfo* function = nullptr;  // never null inside run_handler
  const HttpResponse* raw = nullptr;       // every /next header, for anything else

  // Time left until the deadline (negative when past; zero if there is no deadline).
  // Thread-safe.
  std::chrono::milliseconds remainingTime() const;
};

// What a handler returns: a success payload, or a failure reported to the caller as
// {"errorMessage":...,"errorType":...,"stackTrace":[]} with X-Amz-Function-Error: Unhandled.
class Response {
 public:
  // A success with this body and content type. Thread-safe.
  static Response success(std::string payload,
                          std::string_view content_type = kJsonContentType);
  // A failure of this type (e.g. "InvalidInput") and message. Thread-safe.
  static Response failure(std::string_view error_message, std::string_view error_type);

  // True for success(). Thread-safe (const).
  bool isSuccess() const { return success_; }
  // The body to post: the success payload, or the error JSON. Thread-safe (const).
  const std::string& payload() const { return payload_; }
  // Content type of a success. Thread-safe (const).
  const std::string& contentType() const { return content_type_; }
  // errorType of a failure (empty for a success). Thread-safe (const).
  const std::string& errorType() const { return error_type_; }

 private:
  Response() = default;
  bool success_ = true;
  std::string payload_;
  std::string content_type_;
  std::string error_type_;
};

using Handler = std::function<Response(const Request&)>;

// Runs the Runtime API loop forever: GET /next, sets _X_AMZN_TRACE_ID, calls `handler`, posts
// its Response. A C++ exception escaping the handler becomes a failure whose errorType is the
// exception's (demangled) type name and errorMessage its what(). A post answered with anything
// but 202 (e.g. 413, response too large) is logged to stderr and the loop goes on. Returns only
// on a fatal problem: 2 if AWS_LAMBDA_RUNTIME_API is unset or unusable, 1 if the Runtime API
// cannot be reached or /next fails. Call it once, from main(); it owns the calling thread.
int run_handler(const Handler& handler);

// For failures before run_handler (bad configuration, failed initialisation): POST /init/error
// with {"errorMessage":message,"errorType":error_type}. Returns the HTTP status (202 when
// accepted) or -1 if the Runtime API could not be reached. The caller then exits non-zero.
// Not thread-safe with respect to other Runtime API calls of the process.
int reportInitError(std::string_view error_type, std::string_view error_message);

}  // namespace kindling::lambda
