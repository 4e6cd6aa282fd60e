// json (C++): parses the shared document (an array of {id, category, value, tags} records, the
// event) and returns {"count", "by_category": {cat: {"n", "sum" rounded to 2 decimals}},
// "top3": ids of the three largest values, largest first (ties: smaller id first)}.
// An event that is not an array of records fails with errorType InvalidInput.
#include <kindling/lambda/runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using kindling::lambda::Request;
using kindling::lambda::Response;

namespace {

struct Record {
  const std::string* id;
  double value;
};

struct Category {
  long n = 0;
  double sum = 0;
};

// Rounds to 2 decimals exactly as Python's round(x, 2): correctly rounded decimal, parsed back.
double round2(double x) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", x);
  return std::strtod(text, nullptr);
}

Response handle(const Request& request) {
  const auto event = nlohmann::json::parse(request.payload, nullptr, false);
  const auto invalid = [] {
    return Response::failure("the event must be an array of records", "InvalidInput");
  };
  if (!event.is_array()) return invalid();
  std::map<std::string, Category> by_category;
  std::vector<Record> records;
  records.reserve(event.size());
  for (const auto& r : event) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_string() || !r.contains("category") ||
        !r["category"].is_string() || !r.contains("value") || !r["value"].is_number()) {
      return invalid();
    }
    const double value = r["value"].get<double>();
    Category& c = by_category[r["category"].get<std::string>()];
    ++c.n;
    c.sum += value;
    records.push_back({&r["id"].get_ref<const std::string&>(), value});
  }
  const std::size_t top = std::min<std::size_t>(3, records.size());
  std::partial_sort(records.begin(), records.begin() + static_cast<long>(top), records.end(),
                    [](const Record& a, const Record& b) {
                      return a.value != b.value ? a.value > b.value : *a.id < *b.id;
                    });
  nlohmann::json categories = nlohmann::json::object();
  for (const auto& [name, c] : by_category) {
    categories[name] = {{"n", c.n}, {"sum", round2(c.sum)}};
  }
  nlohmann::json top3 = nlohmann::json::array();
  for (std::size_t i = 0; i < top; ++i) top3.push_back(*records[i].id);
  const nlohmann::json result{
      {"count", records.size()}, {"by_category", std::move(categories)}, {"top3", top3}};
  return Response::success(result.dump());
}

}  // namespace

int main() { return kindling::lambda::run_handler(handle); }
