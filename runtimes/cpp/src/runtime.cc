// run_handler(): the Runtime API loop of the C++ SDK (design in runtime.h).
#include "kindling/lambda/runtime.h"

#include <cxxabi.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

namespace kindling::lambda {
namespace {

constexpr std::string_view kLogPrefix = "kindling-lambda: ";

void logLine(std::string_view message) {
  std::string line;
  line.reserve(kLogPrefix.size() + message.size() + 1);
  line.append(kLogPrefix).append(message).push_back('\n');
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string envString(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::string errorJson(std::string_view error_message, std::string_view error_type,
                      bool with_stack_trace) {
  std::string body;
  body.reserve(48 + error_message.size() + error_type.size());
  body += R"({"errorMessage":")";
  appendJsonEscaped(body, error_message);
  body += R"(","errorType":")";
  appendJsonEscaped(body, error_type);
  body += with_stack_trace ? R"(","stackTrace":[]})" : R"("})";
  return body;
}

// The demangled name of an exception's dynamic type ("std::runtime_error").
std::string typeName(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(type.name());
}

// Connects a client to $AWS_LAMBDA_RUNTIME_API; false (logged) if unset or unresolvable.
bool initHttp(HttpClient& http) {
  const char* address = std::getenv(kEnvRuntimeApi.data());
  if (address == nullptr || *address == '\0') {
    logLine(std::string(kEnvRuntimeApi) + " is not set");
    return false;
  }
  HttpError error;
  if (!http.init(address, error)) {
    logLine(error.message());
    return false;
  }
  return true;
}

Response invokeHandler(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return Response::failure(e.what(), typeName(typeid(e)));
  } catch (...) {
    return Response::failure("the handler threw a value that is not a std::exception",
                             "UnknownException");
  }
}

}  // namespace

FunctionInfo FunctionInfo::fromEnvironment() {
  FunctionInfo info;
  info.function_name = envString("AWS_LAMBDA_FUNCTION_NAME");
  info.function_version = envString("AWS_LAMBDA_FUNCTION_VERSION");
  const std::string memory = envString("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  std::from_chars(memory.data(), memory.data() + memory.size(), info.memory_limit_mb);
  info.log_group_name = envString("AWS_LAMBDA_LOG_GROUP_NAME");
  info.log_stream_name = envString("AWS_LAMBDA_LOG_STREAM_NAME");
  return info;
}

std::chrono::milliseconds Request::remainingTime() const {
  if (deadline.time_since_epoch().count() == 0) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
}

Response Response::success(std::string payload, std::string_view content_type) {
  Response r;
  r.payload_ = std::move(payload);
  r.content_type_.assign(content_type);
  return r;
}

Response Response::failure(std::string_view error_message, std::string_view error_type) {
  Response r;
  r.success_ = false;
  r.payload_ = errorJson(error_message, error_type, true);
  r.content_type_.assign(kJsonContentType);
  r.error_type_.assign(error_type);
  return r;
}

int run_handler(const Handler& handler) {
  // A peer close must surface as EPIPE, not kill the function (sockets also use MSG_NOSIGNAL).
  ::signal(SIGPIPE, SIG_IGN);
  HttpClient http;
  if (!initHttp(http)) return 2;
  RuntimeClient api(http);
  const FunctionInfo function = FunctionInfo::fromEnvironment();
  Invocation invocation;
  Request request;
  request.function = &function;
  for (;;) {
    if (!api.next(invocation)) {
      logLine(api.failureMessage());
      return 1;
    }
    const HttpResponse& raw = *invocation.response;
    request.payload = invocation.event;
    request.request_id = invocation.request_id;
    request.function_arn = raw.header(kHeaderFunctionArn);
    request.xray_trace_id = raw.header(kHeaderTraceId);
    request.client_context = raw.header(kHeaderClientContext);
    request.cognito_identity = raw.header(kHeaderCognitoIdentity);
    request.deadline = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(invocation.deadline_ms));
    request.raw = &raw;
    // As AWS's runtimes do, so that X-Ray SDKs inside the handler find the trace header.
    if (request.xray_trace_id.empty()) {
      ::unsetenv(kEnvTraceId.data());
    } else {
      ::setenv(kEnvTraceId.data(), std::string(request.xray_trace_id).c_str(), 1);
    }

    const Response response = invokeHandler(handler, request);
    const int status =
        response.isSuccess()
            ? api.postResponse(invocation.request_id, response.payload(), 0, {},
                               response.contentType())
            : api.postError(invocation.request_id, response.errorType(), response.payload());
    if (status < 0) {
      logLine(api.failureMessage());
      return 1;
    }
    if (status != 202) logLine(api.failureMessage());
  }
}

int reportInitError(std::string_view error_type, std::string_view error_message) {
  HttpClient http;
  if (!initHttp(http)) return -1;
  RuntimeClient api(http);
  const int status =
      api.postInitError(error_type, errorJson(error_message, error_type, false));
  if (status != 202) logLine(api.failureMessage());
  return status;
}

}  // namespace kindling::lambda
