// cpu (C++): the sum of i*i for i in [0, event.n) modulo 2^64, as a decimal JSON string.
// The loop is kept opaque to the optimiser so it really runs n steps (no closed form).
// n missing or not a non-negative integer fails with errorType InvalidInput.
#include <kindling/lambda/runtime.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

using kindling::lambda::Request;
using kindling::lambda::Response;

static Response handle(const Request& request) {
  const auto event = nlohmann::json::parse(request.payload, nullptr, false);
  // nlohmann-json parses every non-negative integer as unsigned.
  if (!event.is_object() || !event.contains("n") || !event["n"].is_number_unsigned()) {
    return Response::failure("n must be a non-negative integer", "InvalidInput");
  }
  const auto n = event["n"].get<std::uint64_t>();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += i * i;
    asm volatile("" : "+r"(sum));
  }
  std::string body(1, '"');
  body.append(std::to_string(sum)).push_back('"');
  return Response::success(std::move(body));
}

int main() { return kindling::lambda::run_handler(handle); }
