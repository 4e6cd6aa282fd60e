// Wire names of the Lambda Runtime API (2018-06-01) and of the error types the platform reports.
// Sources: ../shared/docs/lambda-interfaces.md §1 (RIE, aws-lambda-cpp, the official clients).
#pragma once

#include <cstdint>
#include <string_view>

namespace kindling::runtime_api {

inline constexpr std::string_view kPathPrefix = "/2018-06-01/runtime/";
inline constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
inline constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";
inline constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";
// SnapStart only (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start); 404 elsewhere, as RIE without
// init caching (lambda-interfaces.md §1.7).
inline constexpr std::string_view kRestoreNextPath = "/2018-06-01/runtime/restore/next";
inline constexpr std::string_view kRestoreErrorPath = "/2018-06-01/runtime/restore/error";

inline constexpr std::string_view kHeaderRequestId = "Lambda-Runtime-Aws-Request-Id";
inline constexpr std::string_view kHeaderDeadlineMs = "Lambda-Runtime-Deadline-Ms";
inline constexpr std::string_view kHeaderFunctionArn = "Lambda-Runtime-Invoked-Function-Arn";
inline constexpr std::string_view kHeaderTraceId = "Lambda-Runtime-Trace-Id";
inline constexpr std::string_view kHeaderClientContext = "Lambda-Runtime-Client-Context";
inline constexpr std::string_view kHeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity";
inline constexpr std::string_view kHeaderErrorType = "Lambda-Runtime-Function-Error-Type";
inline constexpr std::string_view kHeaderErrorBody = "Lambda-Runtime-Function-Error-Body";
inline constexpr std::string_view kHeaderResponseMode = "Lambda-Runtime-Function-Response-Mode";

// RIE: MaxPayloadSize = 6*1024*1024 + 100.
inline constexpr uint64_t kMaxResponseBytes = 6291556;

// Error types (errorType strings).
inline constexpr std::string_view kErrInvalidRequestId = "InvalidRequestID";
inline constexpr std::string_view kErrInvalidStateTransition = "InvalidStateTransition";
inline constexpr std::string_view kErrRequestTooLarge = "RequestEntityTooLarge";
inline constexpr std::string_view kErrInvalidResponseMode = "InvalidFunctionResponseMode";
inline constexpr std::string_view kErrNotFound = "NotFound";

// Function error types the platform itself produces for callers.
inline constexpr std::string_view kFnTimeout = "Sandbox.Timedout";
inline constexpr std::string_view kFnExitError = "Runtime.ExitError";
inline constexpr std::string_view kFnOutOfMemory = "Runtime.OutOfMemory";
inline constexpr std::string_view kFnResponseTooLarge = "Function.ResponseSizeTooLarge";
inline constexpr std::string_view kFnInvalidEntrypoint = "Runtime.InvalidEntrypoint";
inline constexpr std::string_view kFnInvalidResponseMode = "Runtime.InvalidResponseModeHeader";
inline constexpr std::string_view kFnTruncatedResponse = "Runtime.TruncatedResponse";
// An after-restore runtime hook failed (POST /restore/error) [PY lambda_runtime_exception.py].
inline constexpr std::string_view kFnAfterRestoreError = "Runtime.AfterRestoreError";

}  // namespace kindling::runtime_api
