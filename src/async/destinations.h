// Destinations of asynchronous invocations: which ARNs kindling can deliver to (a Lambda function,
// invoked asynchronously, or a local SQS-style queue; SNS, EventBridge and S3 are recognised but
// not supported), and the two message shapes Lambda sends: the invocation record destinations
// receive, and the bare event plus RequestID/ErrorCode/ErrorMessage attributes a dead-letter
// queue receives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kindling::async {

struct Destination {
  enum class Kind { Function, Queue, Topic, EventBus, Bucket, Invalid };
  Kind kind = Kind::Invalid;
  std::string name;       // function or queue name
  std::string qualifier;  // function qualifier ("" = $LATEST)
};

// Classifies a destination ARN. Pure; thread-safe.
Destination parseDestination(std::string_view arn);

// The parts of an invocation record (Lambda's "version 1.0" shape).
struct RecordInput {
  std::string_view request_id;
  std::string_view function_arn;  // qualified
  std::string_view condition;     // "Success", "RetriesExhausted" or "EventAgeExceeded"
  int approximate_invoke_count = 0;
  std::string_view request_payload;  // the event (JSON text)
  bool ran = false;                  // the function ran at least once: responseContext known
  int status_code = 200;             // responseContext.statusCode
  std::string_view executed_version;
  std::string_view function_error;    // "" on success
  std::string_view response_payload;  // the function's result or error (JSON text if valid)
  int64_t timestamp_ms = 0;
};

// Renders the record destinations receive. JSON payloads are embedded as JSON, anything else
// as a string. Pure; thread-safe.
std::string invocationRecord(const RecordInput& in);

// SQS MessageAttributes of a dead-letter message: RequestID, ErrorCode, ErrorMessage (at most
// 1 KiB), as Lambda sets them. Pure; thread-safe.
std::string deadLetterAttributes(std::string_view request_id, int error_code,
                                 std::string_view error_message);

}  // namespace kindling::async
