#include "common/result.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kindling {

std::string Error::message() const {
  if (sys_errno == 0) return context;
  return context + ": " + std::strerror(sys_errno);
}

Error&& Error::wrap(std::string_view outer) && {
  context = std::string(outer) + ": " + context;
  return std::move(*this);
}

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::Internal: return "Internal";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::Validation: return "Validation";
    case ErrorCode::InvalidRequestContent: return "InvalidRequestContent";
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::Conflict: return "Conflict";
    case ErrorCode::RequestTooLarge: return "RequestTooLarge";
    case ErrorCode::TooManyRequests: return "TooManyRequests";
    case ErrorCode::Unsupported: return "Unsupported";
    case ErrorCode::InvalidZip: return "InvalidZip";
    case ErrorCode::InvalidRuntime: return "InvalidRuntime";
    case ErrorCode::Io: return "Io";
    case ErrorCode::ShuttingDown: return "ShuttingDown";
  }
  return "Unknown";
}

void checkFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "KD_CHECK failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace kindling
