// Internal to kd_lab: typed, non-throwing field access for the lab's JSON documents (results.json,
// tune.json, lambda-perf's last.json). A JsonReader walks one object; the first problem it meets
// is kept as an Error naming the full path ("cells[2].samples[0].duration_ms: expected a number,
// got string") and later reads return defaults, so parsers read fields in a row and check ok()
// once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace kindling::lab {

class JsonReader {
 public:
  // `value` must outlive the reader; `path` prefixes every error ("" for the document root).
  // Records an error when `value` is not an object. Not thread-safe (one reader per thread).
  JsonReader(const nlohmann::json& value, std::string path);

  // Required fields: a missing key or a wrong type records an error and returns a default.
  double number(const char* key);
  int integer(const char* key);  // an integral number within int range
  std::string string(const char* key);
  bool boolean(const char* key);
  // Optional fields: a missing key or null gives nullopt; a wrong type records an error.
  std::optional<double> optionalNumber(const char* key);
  std::optional<std::string> optionalString(const char* key);
  // A required array whose elements are all numbers.
  std::vector<double> numberArray(const char* key);
  // A required array whose elements are all integers (within int range).
  std::vector<int> integerArray(const char* key);
  // A required array whose elements are all strings.
  std::vector<std::string> stringArray(const char* key);
  // Like stringArray, but a missing key or null gives an empty vector.
  std::vector<std::string> optionalStringArray(const char* key);
  // A required array / object member, or nullptr (error recorded).
  const nlohmann::json* array(const char* key);
  const nlohmann::json* object(const char* key);
  // A member that may be absent or null (nullptr then, no error).
  const nlohmann::json* optionalMember(const char* key);

  // Records `message` against the path of this object (or of `key` when given), keeps the first.
  void fail(std::string_view message, const char* key = nullptr);
  // Records `message` against an explicit path (array elements), keeps the first.
  void failAt(std::string_view where, std::string_view message);
  // Adopts an error found by a nested reader or parser, keeps the first.
  void fail(Error error);

  bool ok() const { return !error_.has_value(); }
  // The first recorded error; precondition: !ok().
  const Error& error() const { return *error_; }
  // "path.key", or "key" at the root.
  std::string pathOf(std::string_view key) const;
  // "path[index]" of an element of array `key`.
  std::string pathOf(std::string_view key, size_t index) const;

 private:
  const nlohmann::json* member(const char* key);  // required: records "missing" when absent

  const nlohmann::json& value_;
  std::string path_;
  std::optional<Error> error_;
};

// "number", "string", "array", ... for error messages.
const char* jsonTypeName(const nlohmann::json& value);

// An InvalidArgument error for malformed documents.
inline Error documentError(std::string message) {
  return Error{ErrorCode::InvalidArgument, 0, std::move(message)};
}

}  // namespace kindling::lab
