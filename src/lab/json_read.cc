#include "lab/json_read.h"

#include <cmath>
#include <limits>

namespace kindling::lab {

const char* jsonTypeName(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  if (value.is_object()) return "object";
  return "binary";
}

JsonReader::JsonReader(const nlohmann::json& value, std::string path)
    : value_(value), path_(std::move(path)) {
  if (!value_.is_object()) {
    fail(std::string("expected an object, got ") + jsonTypeName(value_));
  }
}

std::string JsonReader::pathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string out;
  out.reserve(path_.size() + 1 + key.size());
  out.append(path_).append(".").append(key);
  return out;
}

std::string JsonReader::pathOf(std::string_view key, size_t index) const {
  return pathOf(key) + "[" + std::to_string(index) + "]";
}

void JsonReader::fail(std::string_view message, const char* key) {
  if (error_) return;
  std::string where = key ? pathOf(key) : (path_.empty() ? std::string("document") : path_);
  error_ = documentError(where + ": " + std::string(message));
}

void JsonReader::failAt(std::string_view where, std::string_view message) {
  if (!error_) error_ = documentError(std::string(where) + ": " + std::string(message));
}

void JsonReader::fail(Error error) {
  if (!error_) error_ = std::move(error);
}

const nlohmann::json* JsonReader::member(const char* key) {
  if (error_) return nullptr;
  auto it = value_.find(key);
  if (it == value_.end()) {
    fail("missing", key);
    return nullptr;
  }
  return &*it;
}

const nlohmann::json* JsonReader::optionalMember(const char* key) {
  if (error_) return nullptr;
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

double JsonReader::number(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return 0;
  if (!v->is_number()) {
    fail(std::string("expected a number, got ") + jsonTypeName(*v), key);
    return 0;
  }
  return v->get<double>();
}

int JsonReader::integer(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return 0;
  if (v->is_number_integer()) {
    // Both signed and unsigned integers; range-check through int64/uint64 as stored.
    if (v->is_number_unsigned()) {
      const auto u = v->get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int>::max())) return static_cast<int>(u);
    } else {
      const auto i = v->get<int64_t>();
      if (i >= std::numeric_limits<int>::min() && i <= std::numeric_limits<int>::max()) {
        return static_cast<int>(i);
      }
    }
    fail("integer out of range", key);
    return 0;
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::trunc(d) == d && d >= std::numeric_limits<int>::min() &&
        d <= std::numeric_limits<int>::max()) {
      return static_cast<int>(d);
    }
    fail("expected an integer, got " + v->dump(), key);
    return 0;
  }
  fail(std::string("expected an integer, got ") + jsonTypeName(*v), key);
  return 0;
}

std::string JsonReader::string(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return {};
  if (!v->is_string()) {
    fail(std::string("expected a string, got ") + jsonTypeName(*v), key);
    return {};
  }
  return v->get<std::string>();
}

bool JsonReader::boolean(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return false;
  if (!v->is_boolean()) {
    fail(std::string("expected true or false, got ") + jsonTypeName(*v), key);
    return false;
  }
  return v->get<bool>();
}

std::optional<double> JsonReader::optionalNumber(const char* key) {
  const nlohmann::json* v = optionalMember(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(std::string("expected a number or null, got ") + jsonTypeName(*v), key);
    return std::nullopt;
  }
  return v->get<double>();
}

std::optional<std::string> JsonReader::optionalString(const char* key) {
  const nlohmann::json* v = optionalMember(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(std::string("expected a string or null, got ") + jsonTypeName(*v), key);
    return std::nullopt;
  }
  return v->get<std::string>();
}

const nlohmann::json* JsonReader::array(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(std::string("expected an array, got ") + jsonTypeName(*v), key);
    return nullptr;
  }
  return v;
}

std::vector<double> JsonReader::numberArray(const char* key) {
  std::vector<double> out;
  const nlohmann::json* v = array(key);
  if (!v) return out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    if (!e.is_number()) {
      failAt(pathOf(key, i), std::string("expected a number, got ") + jsonTypeName(e));
      out.clear();
      return out;
    }
    out.push_back(e.get<double>());
  }
  return out;
}

std::vector<int> JsonReader::integerArray(const char* key) {
  std::vector<int> out;
  const nlohmann::json* v = array(key);
  if (!v) return out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& e = (*v)[i];
    const bool integral = e.is_number_integer() ||
                          (e.is_number_float() && std::trunc(e.get<double>()) == e.get<double>());
    const double d = integral ? e.get<double>() : 0;
    if (!integral || d < std::numeric_limits<int>::min() || d > std::numeric_limits<int>::max()) {
      failAt(pathOf(key, i), "expected an integer, got " + e.dump());
      out.clear();
      return out;
    }
    out.push_back(static_cast<int>(d));
  }
  return out;
}

namespace {

std::vector<std::string> stringsOf(JsonReader& in, const nlohmann::json& array, const char* key) {
  std::vector<std::string> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const nlohmann::json& e = array[i];
    if (!e.is_string()) {
      in.failAt(in.pathOf(key, i), std::string("expected a string, got ") + jsonTypeName(e));
      out.clear();
      return out;
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<std::string> JsonReader::stringArray(const char* key) {
  const nlohmann::json* v = array(key);
  if (!v) return {};
  return stringsOf(*this, *v, key);
}

std::vector<std::string> JsonReader::optionalStringArray(const char* key) {
  const nlohmann::json* v = optionalMember(key);
  if (!v) return {};
  if (!v->is_array()) {
    fail(std::string("expected an array of strings, got ") + jsonTypeName(*v), key);
    return {};
  }
  return stringsOf(*this, *v, key);
}

const nlohmann::json* JsonReader::object(const char* key) {
  const nlohmann::json* v = member(key);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(std::string("expected an object, got ") + jsonTypeName(*v), key);
    return nullptr;
  }
  return v;
}

}  // namespace kindling::lab
