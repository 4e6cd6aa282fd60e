// AWS JSON shapes of the function resource: CreateFunctionRequest -> FunctionConfig (with AWS's
// validation and messages) and FunctionConfig -> FunctionConfiguration.
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/function.h"

namespace kindling::api {

struct CreateFunctionInput {
  store::FunctionConfig config;  // code fields not yet filled
  std::string zip_bytes;         // decoded Code.ZipFile
};

// Parses and validates a CreateFunction body (runtime availability is checked by the caller).
Result<CreateFunctionInput> parseCreateFunction(std::string_view body);
// Validates Environment.Variables as AWS does (key pattern, 4 KB, reserved keys).
Status validateEnvironment(const std::map<std::string, std::string>& vars);
// Validates and reads a Tags object.
Result<std::map<std::string, std::string>> parseTags(const nlohmann::json& tags);
nlohmann::json functionConfiguration(const store::FunctionConfig& fn, std::string_view region);

}  // namespace kindling::api
