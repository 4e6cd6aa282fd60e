// hello (C++): {"message": "Hello, <event.name>!", "request_id": <request id>}; name defaults to
// "world". A name that is not a string fails with errorType InvalidInput.
#include <kindling/lambda/runtime.h>

#include <nlohmann/json.hpp>

using kindling::lambda::Request;
using kindling::lambda::Response;

static Response handle(const Request& request) {
  const auto event = nlohmann::json::parse(request.payload, nullptr, false);
  std::string name = "world";
  if (event.is_object() && event.contains("name") && !event["name"].is_null()) {
    if (!event["name"].is_string()) {
      return Response::failure("name must be a string", "InvalidInput");
    }
    if (!event["name"].get_ref<const std::string&>().empty()) name = event["name"];
  }
  const nlohmann::json result{{"message", "Hello, " + name + "!"},
                              {"request_id", request.request_id}};
  return Response::success(result.dump());
}

int main() { return kindling::lambda::run_handler(handle); }
