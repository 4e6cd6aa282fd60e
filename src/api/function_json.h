// AWS JSON shapes of the function resource: CreateFunctionRequest -> FunctionConfig (with AWS's
// validation and messages) and FunctionConfig -> FunctionConfiguration.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/function.h"

namespace kindling::api {

struct CreateFunctionInput {
  store::FunctionConfig config;  // code fields not yet filled
  std::string zip_bytes;         // decoded Code.ZipFile
  bool publish = false;          // Publish: also publish version 1
  std::optional<std::vector<std::string>> layer_arns;  // Layers as given (resolved by the caller)
};

// Applies the configuration fields of a CreateFunction / UpdateFunctionConfiguration body to
// `fn` with AWS's validation (absent fields keep their value): Role, Runtime, Handler,
// Description, MemorySize, Timeout, EphemeralStorage, Architectures, TracingConfig,
// LoggingConfig, Environment (replaced whole), DeadLetterConfig, SnapStart (ApplyOn enum;
// "<runtime> is not supported for SnapStart enabled functions." otherwise); Layers are returned in
// `layer_arns` for the caller to resolve. Unsupported fields are refused.
Status applyConfiguration(const nlohmann::json& body, store::FunctionConfig& fn,
                          std::optional<std::vector<std::string>>* layer_arns);
// Whether AWS offers SnapStart for this runtime id: java11+, python3.12+, dotnet8+ (not Ruby,
// Node.js or provided*: AWS refuses those with InvalidParameterValueException). Thread-safe.
bool snapStartSupported(std::string_view runtime);
// Decodes `ZipFile` of a Code object / UpdateFunctionCode body (S3 and images refused).
Result<std::string> decodeZipFile(const nlohmann::json& code, std::string_view field_prefix);

// Parses and validates a CreateFunction body (runtime availability is checked by the caller).
Result<CreateFunctionInput> parseCreateFunction(std::string_view body);
// Validates Environment.Variables as AWS does (key pattern, 4 KB, reserved keys).
Status validateEnvironment(const std::map<std::string, std::string>& vars);
// Validates and reads a Tags object.
Result<std::map<std::string, std::string>> parseTags(const nlohmann::json& tags);
nlohmann::json functionConfiguration(const store::FunctionConfig& fn, std::string_view region);

}  // namespace kindling::api
