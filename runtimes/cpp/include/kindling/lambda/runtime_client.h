// The Lambda Runtime API (2018-06-01), low level: wire names in one place and a thin client over
// HttpClient (see http_client.h for the transport design). Most functions use run_handler()
// (runtime.h) instead; this layer is for runtimes that need control over each post (the engine's
// test payload posts chunked, twice, or not at all).
// Not thread-safe: one client per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kindling/lambda/http_client.h"

namespace kindling::lambda {

inline constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
inline constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";
inline constexpr std::string_view kResponseSuffix = "/response";
inline constexpr std::string_view kErrorSuffix = "/error";
inline constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";

inline constexpr std::string_view kHeaderRequestId = "Lambda-Runtime-Aws-Request-Id";
inline constexpr std::string_view kHeaderDeadlineMs = "Lambda-Runtime-Deadline-Ms";
inline constexpr std::string_view kHeaderFunctionArn = "Lambda-Runtime-Invoked-Function-Arn";
inline constexpr std::string_view kHeaderTraceId = "Lambda-Runtime-Trace-Id";
inline constexpr std::string_view kHeaderClientContext = "Lambda-Runtime-Client-Context";
inline constexpr std::string_view kHeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity";
inline constexpr std::string_view kHeaderPrefix = "Lambda-Runtime-";
inline constexpr std::string_view kHeaderErrorType = "Lambda-Runtime-Function-Error-Type";
inline constexpr std::string_view kEnvRuntimeApi = "AWS_LAMBDA_RUNTIME_API";
inline constexpr std::string_view kEnvTraceId = "_X_AMZN_TRACE_ID";
inline constexpr std::string_view kJsonContentType = "application/json";
// The trailer fields aws-lambda-go declares on every post (Go sorts and comma-joins them).
inline constexpr std::string_view kGoDeclaredTrailers =
    "Lambda-Runtime-Function-Error-Body,Lambda-Runtime-Function-Error-Type";
inline constexpr std::string_view kDefaultUserAgent = "kindling-lambda-cpp/0.1";

// One invocation handed out by /next.
struct Invocation {
  std::string_view request_id;   // stable until the next call to next()
  std::int64_t deadline_ms = 0;  // epoch millis; 0 if the header was absent or malformed
  std::string_view event;        // valid until the next request (i.e. the first post)
  const HttpResponse* response = nullptr;  // all /next headers; valid like `event`
};

class RuntimeClient {
 public:
  // `http` must outlive the client; `user_agent` must outlive it too (usually a literal).
  explicit RuntimeClient(HttpClient& http, std::string_view user_agent = kDefaultUserAgent)
      : http_(http), user_agent_(user_agent) {}

  // GET /next (blocks until an invocation arrives). False on transport failure, a non-200
  // status or a missing request id; failureMessage() says why. Not thread-safe.
  bool next(Invocation& out);

  // POST /invocation/<id>/response with `content_type`. chunk_size > 0 sends the body chunked
  // with `declared_trailers` in a Trailer: header. Returns the HTTP status, or -1 on transport
  // failure. Not thread-safe.
  int postResponse(std::string_view request_id, std::string_view body, std::size_t chunk_size = 0,
                   std::string_view declared_trailers = {},
                   std::string_view content_type = kJsonContentType);

  // POST /invocation/<id>/error with Lambda-Runtime-Function-Error-Type. Status or -1.
  // Not thread-safe.
  int postError(std::string_view request_id, std::string_view error_type, std::string_view body);

  // POST /init/error with Lambda-Runtime-Function-Error-Type. Status or -1. Not thread-safe.
  int postInitError(std::string_view error_type, std::string_view body);

  // Why the last failed call failed (transport error, or status and body of an unexpected
  // answer: anything but 200 for /next, 202 for posts). Not thread-safe.
  const std::string& failureMessage() const { return failure_; }

  // The HTTP client underneath (diagnostics: connection count). Not thread-safe.
  const HttpClient& http() const { return http_; }

 private:
  int post(std::string_view error_type, std::string_view body, std::size_t chunk_size,
           std::string_view declared_trailers, std::string_view content_type);

  HttpClient& http_;
  std::string_view user_agent_;
  HttpResponse next_response_;
  HttpResponse post_response_;
  std::string request_id_;  // copy of the current id: posts overwrite the receive buffer
  std::string target_;      // request path, reused
  std::string failure_;     // set only when a call fails
};

// Appends `text` to `out` as the contents of a JSON string (quotes not included): ", \ and
// control characters escaped, other bytes copied as they are. Thread-safe (pure).
void appendJsonEscaped(std::string& out, std::string_view text);

}  // namespace kindling::lambda
