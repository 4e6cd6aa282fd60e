// heavy-init (C++): builds a 32 MB table (4,000,000 64-bit values) once, at init, outside the
// handler; each invocation only returns {"items": 4000000, "checksum": <sum of the table modulo
// 1,000,000,007>}. The same table and checksum as the Go and Rust heavy-init examples.
// An event that is not a JSON object fails with errorType InvalidInput.
#include <kindling/lambda/runtime.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

using kindling::lambda::Request;
using kindling::lambda::Response;

namespace {

constexpr std::uint64_t kItems = 4'000'000;
constexpr std::uint64_t kModulus = 1'000'000'007;

struct Table {
  std::vector<std::uint64_t> values;
  std::uint64_t checksum = 0;
};

// value(i) = x ^ (x >> 29) with x = i * 0x9E3779B97F4A7C15 (mod 2^64).
Table buildTable() {
  Table table;
  table.values.resize(kItems);
  for (std::uint64_t i = 0; i < kItems; ++i) {
    const std::uint64_t x = i * 0x9E3779B97F4A7C15ull;
    table.values[i] = x ^ (x >> 29);
  }
  for (std::uint64_t v : table.values) table.checksum = (table.checksum + v % kModulus) % kModulus;
  return table;
}

}  // namespace

int main() {
  const Table table = buildTable();  // init phase: before the first /next
  return kindling::lambda::run_handler([&table](const Request& request) {
    const auto event = nlohmann::json::parse(request.payload, nullptr, false);
    if (!event.is_object()) {
      return Response::failure("the event must be a JSON object", "InvalidInput");
    }
    const nlohmann::json result{{"items", table.values.size()}, {"checksum", table.checksum}};
    return Response::success(result.dump());
  });
}
