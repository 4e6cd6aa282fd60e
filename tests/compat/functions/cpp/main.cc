// Compat function for kindling's C++ SDK: reports what the SDK saw of its invocation, so a test
// can check it against what a Runtime API implementation (AWS's emulator, kindling) sent.
// Event {"throw": "<message>"} throws std::runtime_error(message) from the handler;
// {"fail": "<message>"} returns Response::failure(message, "CompatFailure").
#include <kindling/lambda/runtime.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

using kindling::lambda::Request;
using kindling::lambda::Response;

int main() {
  return kindling::lambda::run_handler([](const Request& request) {
    const auto event = nlohmann::json::parse(request.payload, nullptr, false);
    if (event.is_object() && event.contains("throw")) {
      throw std::runtime_error(event["throw"].get<std::string>());
    }
    if (event.is_object() && event.contains("fail")) {
      return Response::failure(event["fail"].get<std::string>(), "CompatFailure");
    }
    const char* trace_env = std::getenv("_X_AMZN_TRACE_ID");
    const nlohmann::json out{
        {"event", event},
        {"request_id", request.request_id},
        {"function_arn", request.function_arn},
        {"xray_trace_id", request.xray_trace_id},
        {"trace_env", trace_env != nullptr ? trace_env : ""},
        {"remaining_ms", request.remainingTime().count()},
        {"function_name", request.function->function_name},
        {"function_version", request.function->function_version},
        {"memory_limit_mb", request.function->memory_limit_mb},
        {"log_group_name", request.function->log_group_name},
        {"log_stream_name", request.function->log_stream_name}};
    return Response::success(out.dump());
  });
}
