// The Lambda Runtime API (2018-06-01) as the test payload speaks it: wire names in one place and
// a thin client over HttpClient (see http_client.h for the transport design).
// Not thread-safe: one client per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_client.h"

namespace kindling::payloads {

inline constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
inline constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";
inline constexpr std::string_view kResponseSuffix = "/response";
inline constexpr std::string_view kErrorSuffix = "/error";
inline constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";

inline constexpr std::string_view kHeaderRequestId = "Lambda-Runtime-Aws-Request-Id";
inline constexpr std::string_view kHeaderDeadlineMs = "Lambda-Runtime-Deadline-Ms";
inline constexpr std::string_view kHeaderPrefix = "Lambda-Runtime-";
inline constexpr std::string_view kHeaderErrorType = "Lambda-Runtime-Function-Error-Type";
// The trailer fields aws-lambda-go declares on every post (Go sorts and comma-joins them).
inline constexpr std::string_view kGoDeclaredTrailers =
    "Lambda-Runtime-Function-Error-Body,Lambda-Runtime-Function-Error-Type";
inline constexpr std::string_view kUserAgent = "kindling-test-payload/1.0";

// One invocation handed out by /next.
struct Invocation {
  std::string_view request_id;   // stable until the next call to next()
  std::int64_t deadline_ms = 0;  // epoch millis; 0 if the header was absent or malformed
  std::string_view event;        // valid until the next request (i.e. the first post)
  const HttpResponse* response = nullptr;  // all /next headers; valid like `event`
};

class RuntimeApiClient {
 public:
  // `http` must outlive the client.
  explicit RuntimeApiClient(HttpClient& http) : http_(http) {}

  // GET /next (blocks until an invocation arrives). False on transport failure, a non-200
  // status or a missing request id; failureMessage() says why. Not thread-safe.
  bool next(Invocation& out);

  // POST /invocation/<id>/response with Content-Type: application/json. chunk_size > 0 sends the
  // body chunked with `declared_trailers` in a Trailer: header. Returns the HTTP status, or -1 on
  // transport failure. Not thread-safe.
  int postResponse(std::string_view request_id, std::string_view body, std::size_t chunk_size = 0,
                   std::string_view declared_trailers = {});

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
           std::string_view declared_trailers);

  HttpClient& http_;
  HttpResponse next_response_;
  HttpResponse post_response_;
  std::string request_id_;  // copy of the current id: posts overwrite the receive buffer
  std::string target_;      // request path, reused
  std::string failure_;      // set only when a call fails
};

}  // namespace kindling::payloads
