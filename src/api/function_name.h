// Parsing of Lambda's FunctionName path parameter: name, name:qualifier, partial ARN
// (123456789012:function:name) or full ARN (arn:aws:lambda:region:acct:function:name[:qual]).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kindling::api {

inline constexpr std::string_view kAccountId = "000000000000";

struct FunctionRef {
  std::string name;
  std::string qualifier;  // empty when none was given
  std::string region;     // empty unless an ARN named one
  std::string account;    // empty unless an ARN named one
};

// Validates as AWS does (ValidationException on bad shapes; names are at most 64 characters).
Result<FunctionRef> parseFunctionRef(std::string_view raw);
// True for 1-64 characters of [a-zA-Z0-9-_].
bool isValidFunctionName(std::string_view name);
std::string functionArn(std::string_view region, std::string_view name,
                        std::string_view qualifier = {});
// The region from an Authorization header's credential scope (SigV4), or empty.
std::string regionFromAuthorization(std::string_view authorization);

}  // namespace kindling::api
