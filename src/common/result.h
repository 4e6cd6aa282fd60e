// Result<T> and Error: the error convention of the whole engine (see docs/errors.md).
// Fallible calls return Result<T>; the engine does not throw. Errors carry a code (mapped to an
// HTTP status + AWS error type in api/error_map), the errno of the failing syscall if any, and a
// human-readable context built on the way up.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace kindling {

enum class ErrorCode {
  Internal,            // ServiceException 500
  InvalidArgument,     // InvalidParameterValueException 400
  Validation,          // ValidationException 400
  InvalidRequestContent,  // InvalidRequestContentException 400
  NotFound,            // ResourceNotFoundException 404
  Conflict,            // ResourceConflictException 409
  RequestTooLarge,     // RequestEntityTooLargeException 413
  TooManyRequests,     // TooManyRequestsException 429
  Unsupported,         // InvalidParameterValueException 400 (feature not supported by kindling)
  InvalidZip,          // InvalidParameterValueException 400 ("Could not unzip uploaded file")
  InvalidRuntime,      // InvalidRuntimeException / InvalidParameterValueException 400
  Io,                  // ServiceException 500
  ShuttingDown,        // ServiceException 503
};

struct [[nodiscard]] Error {
  ErrorCode code = ErrorCode::Internal;
  int sys_errno = 0;
  std::string context;

  // "context: strerror(errno)" when an errno is attached.
  std::string message() const;
  // Prepends an outer context: "outer: inner".
  Error&& wrap(std::string_view outer) &&;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> makeError(ErrorCode code, std::string context) {
  return tl::unexpected<Error>(Error{code, 0, std::move(context)});
}
// Builds an error from the current errno; name the syscall and its arguments in `context`.
inline tl::unexpected<Error> errnoError(std::string context, int err = errno) {
  return tl::unexpected<Error>(Error{ErrorCode::Io, err, std::move(context)});
}

const char* errorCodeName(ErrorCode code);

}  // namespace kindling

// Propagates an error out of the enclosing function returning Result<...>.
#define KD_TRY_STATUS(expr)                                     \
  do {                                                          \
    auto kd_try_result_ = (expr);                               \
    if (!kd_try_result_) return tl::unexpected(std::move(kd_try_result_.error())); \
  } while (0)

// A broken internal invariant: fatal.
#define KD_CHECK(cond)                                                               \
  do {                                                                               \
    if (!(cond)) ::kindling::checkFailed(#cond, __FILE__, __LINE__);                 \
  } while (0)

namespace kindling {
[[noreturn]] void checkFailed(const char* expr, const char* file, int line);
}
