// The one table from ErrorCode to HTTP status + AWS error type, and the rest-json error shape
// (x-amzn-ErrorType header + {"Type":"User","message":...}).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "http/server.h"

namespace kindling::api {

struct AwsError {
  int status;
  std::string_view type;
};

AwsError awsErrorFor(ErrorCode code);
// Builds the error response; `request_id` goes into x-amzn-RequestId.
http::Response errorResponse(const http::Request& req, const Error& error,
                             const std::string& request_id);
// Same with an explicit status and type (errors that have no ErrorCode of their own).
http::Response errorResponse(const http::Request& req, int status, std::string_view type,
                             const std::string& message, const std::string& request_id);

}  // namespace kindling::api
