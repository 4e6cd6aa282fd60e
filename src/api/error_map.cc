#include "api/error_map.h"

#include <nlohmann/json.hpp>

namespace kindling::api {

AwsError awsErrorFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return {400, "InvalidParameterValueException"};
    case ErrorCode::Validation: return {400, "ValidationException"};
    case ErrorCode::InvalidRequestContent: return {400, "InvalidRequestContentException"};
    case ErrorCode::NotFound: return {404, "ResourceNotFoundException"};
    case ErrorCode::Conflict: return {409, "ResourceConflictException"};
    case ErrorCode::RequestTooLarge: return {413, "RequestEntityTooLargeException"};
    case ErrorCode::TooManyRequests: return {429, "TooManyRequestsException"};
    case ErrorCode::Unsupported: return {400, "InvalidParameterValueException"};
    case ErrorCode::InvalidZip: return {400, "InvalidParameterValueException"};
    case ErrorCode::InvalidRuntime: return {400, "InvalidParameterValueException"};
    case ErrorCode::ShuttingDown: return {503, "ServiceException"};
    case ErrorCode::Internal:
    case ErrorCode::Io: return {500, "ServiceException"};
  }
  return {500, "ServiceException"};
}

http::Response errorResponse(const http::Request& req, int status, std::string_view type,
                             const std::string& message, const std::string& request_id) {
  nlohmann::json body;
  body["Type"] = status >= 500 ? "Service" : "User";
  // AWS capitalises "Message" for ResourceNotFound/ServiceException and "message" elsewhere;
  // botocore reads either.
  if (type == "ResourceNotFoundException" || type == "ServiceException") {
    body["Message"] = message;
  } else {
    body["message"] = message;
  }
  http::Response res{static_cast<boost::beast::http::status>(status), req.version()};
  res.set("x-amzn-ErrorType", type);
  res.set("x-amzn-RequestId", request_id);
  res.set(boost::beast::http::field::content_type, "application/json");
  res.body() = body.dump();
  res.keep_alive(req.keep_alive());
  return res;
}

http::Response errorResponse(const http::Request& req, const Error& error,
                             const std::string& request_id) {
  const AwsError aws = awsErrorFor(error.code);
  std::string message = error.code == ErrorCode::Io || error.code == ErrorCode::Internal
                            ? "kindling internal error: " + error.message()
                            : error.context;
  return errorResponse(req, aws.status, aws.type, message, request_id);
}

}  // namespace kindling::api
