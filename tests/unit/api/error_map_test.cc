// The ErrorCode -> HTTP status + AWS error type table and the rest-json error response.
#include "api/error_map.h"

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

namespace kindling::api {
namespace {

namespace bhttp = boost::beast::http;

TEST(AwsErrorForTest, Table) {
  struct Row {
    ErrorCode code;
    int status;
    const char* type;
  };
  const Row rows[] = {
      {ErrorCode::Internal, 500, "ServiceException"},
      {ErrorCode::InvalidArgument, 400, "InvalidParameterValueException"},
      {ErrorCode::Validation, 400, "ValidationException"},
      {ErrorCode::InvalidRequestContent, 400, "InvalidRequestContentException"},
      {ErrorCode::NotFound, 404, "ResourceNotFoundException"},
      {ErrorCode::Conflict, 409, "ResourceConflictException"},
      {ErrorCode::RequestTooLarge, 413, "RequestEntityTooLargeException"},
      {ErrorCode::TooManyRequests, 429, "TooManyRequestsException"},
      {ErrorCode::Unsupported, 400, "InvalidParameterValueException"},
      {ErrorCode::InvalidZip, 400, "InvalidParameterValueException"},
      {ErrorCode::InvalidRuntime, 400, "InvalidParameterValueException"},
      {ErrorCode::Io, 500, "ServiceException"},
      {ErrorCode::ShuttingDown, 503, "ServiceException"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(errorCodeName(row.code));
    const AwsError e = awsErrorFor(row.code);
    EXPECT_EQ(e.status, row.status);
    EXPECT_EQ(e.type, row.type);
  }
}

http::Request request(bool keep_alive = true) {
  http::Request req{bhttp::verb::get, "/2015-03-31/functions/nope", 11};
  req.keep_alive(keep_alive);
  return req;
}

std::string header(const http::Response& res, std::string_view name) {
  auto it = res.find(name);
  return it == res.end() ? "<absent>" : std::string(it->value());
}

TEST(ErrorResponseTest, NotFoundUsesCapitalMessage) {
  const Error error{ErrorCode::NotFound, 0,
                    "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"};
  const http::Response res = errorResponse(request(), error, "req-123");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(header(res, "x-amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(header(res, "x-amzn-RequestId"), "req-123");
  EXPECT_EQ(header(res, "Content-Type"), "application/json");
  EXPECT_EQ(res.body(),
            R"({"Message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope","Type":"User"})");
  EXPECT_TRUE(res.keep_alive());
}

TEST(ErrorResponseTest, ValidationUsesLowercaseMessage) {
  const Error error{ErrorCode::Validation, 0, "1 validation error detected"};
  const http::Response res = errorResponse(request(false), error, "r");
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(header(res, "x-amzn-ErrorType"), "ValidationException");
  EXPECT_EQ(res.body(), R"({"Type":"User","message":"1 validation error detected"})");
  EXPECT_FALSE(res.keep_alive());
}

TEST(ErrorResponseTest, InternalErrorsAreServiceTypedWithErrno) {
  const Error error{ErrorCode::Io, ENOENT, "open(/var/lib/kindling/x)"};
  const http::Response res = errorResponse(request(), error, "r");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(header(res, "x-amzn-ErrorType"), "ServiceException");
  EXPECT_EQ(res.body(),
            R"({"Message":"kindling internal error: open(/var/lib/kindling/x): No such file or directory","Type":"Service"})");
}

TEST(ErrorResponseTest, ShuttingDownIsServiceTyped) {
  const Error error{ErrorCode::ShuttingDown, 0, "kindling is shutting down"};
  const http::Response res = errorResponse(request(), error, "r");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res.body(), R"({"Message":"kindling is shutting down","Type":"Service"})");
}

TEST(ErrorResponseTest, ExplicitStatusAndType) {
  const http::Response res =
      errorResponse(request(), 429, "TooManyRequestsException", "Rate Exceeded.", "r9");
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(header(res, "x-amzn-ErrorType"), "TooManyRequestsException");
  EXPECT_EQ(header(res, "x-amzn-RequestId"), "r9");
  EXPECT_EQ(res.body(), R"({"Type":"User","message":"Rate Exceeded."})");
}

}  // namespace
}  // namespace kindling::api
