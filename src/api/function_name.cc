#include "api/function_name.h"

#include <cctype>

#include "common/strings.h"

namespace kindling::api {

namespace {

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

bool isQualifier(std::string_view q) {
  if (q == "$LATEST") return true;
  if (q.empty() || q.size() > 128) return false;
  for (char c : q) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

bool isAccount(std::string_view s) {
  if (s.size() != 12) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Error validation(std::string_view raw, std::string_view what) {
  return Error{ErrorCode::Validation, 0,
               "1 validation error detected: Value '" + std::string(raw) +
                   "' at 'functionName' failed to satisfy constraint: " + std::string(what)};
}

}  // namespace

bool isValidFunctionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

Result<FunctionRef> parseFunctionRef(std::string_view raw) {
  constexpr std::string_view kPattern =
      "Member must satisfy regular expression pattern: "
      "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
      "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
  if (raw.empty() || raw.size() > 256) {
    return tl::unexpected(validation(raw, "Member must have length less than or equal to 256"));
  }
  FunctionRef ref;
  auto parts = split(raw, ':');
  std::vector<std::string_view> rest;
  if (parts[0] == "arn") {
    // arn:aws:lambda:region:account:function:name[:qualifier]
    if (parts.size() < 7 || parts.size() > 8 || parts[2] != "lambda" || parts[5] != "function" ||
        !startsWith(parts[1], "aws") || !isAccount(parts[4])) {
      return tl::unexpected(validation(raw, kPattern));
    }
    ref.region = std::string(parts[3]);
    ref.account = std::string(parts[4]);
    ref.name = std::string(parts[6]);
    if (parts.size() == 8) ref.qualifier = std::string(parts[7]);
  } else if (parts.size() >= 3 && isAccount(parts[0]) && parts[1] == "function") {
    // account:function:name[:qualifier]
    if (parts.size() > 4) return tl::unexpected(validation(raw, kPattern));
    ref.account = std::string(parts[0]);
    ref.name = std::string(parts[2]);
    if (parts.size() == 4) ref.qualifier = std::string(parts[3]);
  } else {
    if (parts.size() > 2) return tl::unexpected(validation(raw, kPattern));
    ref.name = std::string(parts[0]);
    if (parts.size() == 2) ref.qualifier = std::string(parts[1]);
  }
  if (ref.name.size() > 64 && parts[0] != "arn") {
    return tl::unexpected(Error{ErrorCode::InvalidArgument, 0,
                                "1 validation error detected: Value '" + std::string(raw) +
                                    "' at 'functionName' failed to satisfy constraint: Member "
                                    "must have length less than or equal to 64"});
  }
  if (!isValidFunctionName(ref.name) ||
      (!ref.qualifier.empty() && !isQualifier(ref.qualifier)) ||
      (parts.size() >= 2 && ref.qualifier.empty() && raw.back() == ':')) {
    return tl::unexpected(validation(raw, kPattern));
  }
  return ref;
}

std::string functionArn(std::string_view region, std::string_view name,
                        std::string_view qualifier) {
  std::string arn = "arn:aws:lambda:" + std::string(region) + ":" + std::string(kAccountId) +
                    ":function:" + std::string(name);
  if (!qualifier.empty()) arn += ":" + std::string(qualifier);
  return arn;
}

std::string regionFromAuthorization(std::string_view authorization) {
  const auto pos = authorization.find("Credential=");
  if (pos == std::string_view::npos) return {};
  auto scope = authorization.substr(pos + 11);
  scope = scope.substr(0, scope.find_first_of(", "));
  auto parts = split(scope, '/');
  // AKID/date/region/service/aws4_request
  if (parts.size() < 5) return {};
  return std::string(parts[2]);
}

}  // namespace kindling::api
