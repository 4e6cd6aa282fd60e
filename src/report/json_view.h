// Lenient read access to the bench/tune JSON documents (schemas kindling.bench/1, kindling.tune/1).
// The report renders whatever it is given: a missing or mistyped field reads as "absent" instead
// of throwing, so one odd cell never costs the whole report.
#pragma once

#include <cmath>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kindling::report {

using Json = nlohmann::json;

// The member `key` of `j`, or nullptr when `j` is no object or has no such member. Thread-safe.
inline const Json* member(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// `j` as a finite number (JSON booleans are not numbers), else nullopt. Thread-safe.
inline std::optional<double> asNumber(const Json* j) {
  if (j == nullptr || !j->is_number()) return std::nullopt;
  double v = j->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// The member `key` of `j` as a finite number, else nullopt. Thread-safe.
inline std::optional<double> numberAt(const Json& j, std::string_view key) {
  return asNumber(member(j, key));
}

// The member `key` of `j` as a string view (valid while `j` lives), else nullopt. Thread-safe.
inline std::optional<std::string_view> stringAt(const Json& j, std::string_view key) {
  const Json* m = member(j, key);
  if (m == nullptr || !m->is_string()) return std::nullopt;
  return std::string_view(m->get_ref<const std::string&>());
}

// The member `key` of `j` if it is an array, else a shared empty array. Thread-safe.
inline const Json& arrayAt(const Json& j, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* m = member(j, key);
  return (m != nullptr && m->is_array()) ? *m : kEmpty;
}

// The member `key` of `j` if it is an object, else a shared empty object. Thread-safe.
inline const Json& objectAt(const Json& j, std::string_view key) {
  static const Json kEmpty = Json::object();
  const Json* m = member(j, key);
  return (m != nullptr && m->is_object()) ? *m : kEmpty;
}

// A sample counts as ok when its "error" is null or absent (the contract always writes it).
inline bool sampleOk(const Json& sample) {
  const Json* e = member(sample, "error");
  return e == nullptr || e->is_null();
}

// One distribution summary S = {count, min, p50, p90, p99, max, mean}; fields may be absent.
struct Stat {
  std::optional<double> count, min, p50, p90, p99, max, mean;
  // True when count > 0 (the contract: count 0 => every field is 0, i.e. no data).
  bool hasData() const { return count.has_value() && *count > 0; }
};

// Reads stats[key] leniently. Thread-safe.
inline Stat statAt(const Json& stats, std::string_view key) {
  const Json& s = objectAt(stats, key);
  return Stat{numberAt(s, "count"), numberAt(s, "min"), numberAt(s, "p50"), numberAt(s, "p90"),
              numberAt(s, "p99"),   numberAt(s, "max"), numberAt(s, "mean")};
}

}  // namespace kindling::report
