#include "api/function_json.h"

#include <regex>
#include <set>

#include "api/function_name.h"
#include "common/strings.h"

namespace kindling::api {

using nlohmann::json;

namespace {

Error invalid(std::string message) { return Error{ErrorCode::InvalidArgument, 0, std::move(message)}; }
Error validation(std::string message) { return Error{ErrorCode::Validation, 0, std::move(message)}; }

std::string constraint(std::string_view value, std::string_view field, std::string_view what) {
  return "1 validation error detected: Value '" + std::string(value) + "' at '" +
         std::string(field) + "' failed to satisfy constraint: " + std::string(what);
}

// Fields kindling does not implement yet: refused, never silently ignored.
struct Unsupported {
  std::string_view field;
  std::string_view why;
};
constexpr Unsupported kUnsupported[] = {
    {"Layers", "layers come with the control-plane work"},
    {"VpcConfig", "functions run on the host network; use the kindling:network tag"},
    {"DeadLetterConfig", "dead-letter queues come with asynchronous invocation"},
    {"KMSKeyArn", "environment variables are not encrypted with KMS"},
    {"FileSystemConfigs", "EFS mounts are not available"},
    {"ImageConfig", "container images are not supported"},
    {"CodeSigningConfigArn", "code signing is not supported"},
};

}  // namespace

Status validateEnvironment(const std::map<std::string, std::string>& vars) {
  static const std::regex kKey("[a-zA-Z]([a-zA-Z0-9_])+");
  // Keys Lambda reserves for itself (lambda-interfaces.md §2.1).
  static const std::set<std::string, std::less<>> kReserved = {
      "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
      "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
      "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
      "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
      "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
      "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"};
  json measured = json::object();
  for (const auto& [k, v] : vars) {
    if (!std::regex_match(k, kKey)) {
      return tl::unexpected(validation(constraint(k, "environment.variables", "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+")));
    }
    if (kReserved.count(k)) {
      return tl::unexpected(invalid(
          "Lambda was unable to configure your environment variables because the environment "
          "variables you have provided contains reserved keys that are currently not supported "
          "for modification. Reserved keys used in this request: " + k));
    }
    measured[k] = v;
  }
  const std::string text = measured.dump();
  if (text.size() > 4096) {
    return tl::unexpected(invalid(
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: " + text));
  }
  return {};
}

Result<std::map<std::string, std::string>> parseTags(const json& tags) {
  std::map<std::string, std::string> out;
  if (tags.is_null()) return out;
  if (!tags.is_object()) return tl::unexpected(validation("Tags must be a map of strings"));
  for (auto it = tags.begin(); it != tags.end(); ++it) {
    if (!it.value().is_string()) return tl::unexpected(validation("Tag values must be strings"));
    if (it.key().empty() || it.key().size() > 128 || it.value().get_ref<const std::string&>().size() > 256) {
      return tl::unexpected(invalid("Tag keys must be 1-128 and values 0-256 characters"));
    }
    out[it.key()] = it.value().get<std::string>();
  }
  if (out.size() > 50) return tl::unexpected(invalid("A function can have at most 50 tags"));
  for (const auto& [k, v] : out) {
    if (k == "kindling:network" && v != "host" && v != "none") {
      return tl::unexpected(invalid("Tag kindling:network must be 'host' or 'none', got '" + v + "'"));
    }
    if (k == "kindling:fast-start" && v != "true" && v != "false") {
      return tl::unexpected(invalid("Tag kindling:fast-start must be 'true' or 'false', got '" + v + "'"));
    }
  }
  return out;
}

Result<CreateFunctionInput> parseCreateFunction(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return tl::unexpected(Error{ErrorCode::Validation, 0, "Request body is not a JSON object"});
  }
  CreateFunctionInput in;
  auto& fn = in.config;
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return std::string("\x01");
    return it->get<std::string>();
  };
  auto name = str("FunctionName");
  if (!name) return tl::unexpected(validation(constraint("null", "functionName", "Member must not be null")));
  auto ref = parseFunctionRef(*name);
  if (!ref) return tl::unexpected(std::move(ref.error()));
  if (!ref->qualifier.empty()) {
    return tl::unexpected(validation(constraint(*name, "functionName", "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)")));
  }
  fn.name = ref->name;

  for (const auto& u : kUnsupported) {
    auto it = j.find(std::string(u.field));
    if (it != j.end() && !it->is_null() && !(it->is_array() && it->empty()) &&
        !(it->is_object() && it->empty())) {
      return tl::unexpected(invalid("kindling does not support " + std::string(u.field) +
                                    " yet: " + std::string(u.why) + "."));
    }
  }
  if (auto pt = str("PackageType"); pt && *pt != "Zip") {
    return tl::unexpected(invalid("kindling does not support PackageType " + *pt +
                                  ": only Zip packages (Code.ZipFile) are supported."));
  }
  if (auto it = j.find("Publish"); it != j.end() && it->is_boolean() && it->get<bool>()) {
    return tl::unexpected(invalid("kindling does not support Publish=true yet: versions come with the control-plane work."));
  }

  auto role = str("Role");
  static const std::regex kRole("arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
  if (!role || !std::regex_match(*role, kRole)) {
    return tl::unexpected(validation(constraint(role.value_or("null"), "role",
                                                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")));
  }
  fn.role = *role;

  auto code = j.find("Code");
  if (code == j.end() || !code->is_object()) {
    return tl::unexpected(validation(constraint("null", "code", "Member must not be null")));
  }
  for (const char* key : {"S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"}) {
    if (code->contains(key)) {
      return tl::unexpected(invalid(std::string("kindling does not support Code.") + key +
                                    ": upload the package inline with Code.ZipFile "
                                    "(aws lambda create-function --zip-file fileb://function.zip)."));
    }
  }
  auto zip = code->find("ZipFile");
  if (zip == code->end() || !zip->is_string()) {
    return tl::unexpected(invalid("Code.ZipFile is required: kindling accepts zip packages uploaded inline."));
  }
  auto decoded = base64Decode(zip->get_ref<const std::string&>());
  if (!decoded) {
    return tl::unexpected(invalid("Could not unzip uploaded file. Please check your file, then try to upload again."));
  }
  in.zip_bytes = std::move(*decoded);

  auto runtime = str("Runtime");
  if (!runtime) return tl::unexpected(invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages."));
  fn.runtime = *runtime;
  auto handler = str("Handler");
  if (!handler) return tl::unexpected(invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages."));
  if (handler->empty() || handler->size() > 128 ||
      handler->find_first_of(" \t\r\n") != std::string::npos) {
    return tl::unexpected(validation(constraint(*handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+")));
  }
  fn.handler = *handler;
  if (auto d = str("Description")) {
    if (d->size() > 256) return tl::unexpected(validation(constraint(*d, "description", "Member must have length less than or equal to 256")));
    fn.description = *d;
  }
  auto integer = [&](const char* key, int def, int lo, int hi, const char* field) -> Result<int> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number_integer()) return tl::unexpected(validation(std::string(key) + " must be an integer"));
    const int64_t v = it->get<int64_t>();
    if (v < lo) return tl::unexpected(validation(constraint(std::to_string(v), field, "Member must have value greater than or equal to " + std::to_string(lo))));
    if (v > hi) return tl::unexpected(validation(constraint(std::to_string(v), field, "Member must have value less than or equal to " + std::to_string(hi))));
    return static_cast<int>(v);
  };
  auto memory = integer("MemorySize", 128, 128, 10240, "memorySize");
  if (!memory) return tl::unexpected(std::move(memory.error()));
  fn.memory_mb = *memory;
  auto timeout = integer("Timeout", 3, 1, 900, "timeout");
  if (!timeout) return tl::unexpected(std::move(timeout.error()));
  fn.timeout_s = *timeout;
  if (auto es = j.find("EphemeralStorage"); es != j.end() && es->is_object()) {
    auto size = es->find("Size");
    if (size == es->end() || !size->is_number_integer() || size->get<int64_t>() < 512 ||
        size->get<int64_t>() > 10240) {
      return tl::unexpected(validation(constraint(size == es->end() ? "null" : size->dump(), "ephemeralStorage.size", "Member must have value between 512 and 10240")));
    }
    fn.ephemeral_storage_mb = size->get<int>();
  }
  if (auto arch = j.find("Architectures"); arch != j.end() && !arch->is_null()) {
    if (!arch->is_array() || arch->size() != 1 || !(*arch)[0].is_string()) {
      return tl::unexpected(validation(constraint(arch->dump(), "architectures", "Member must have length less than or equal to 1")));
    }
    const std::string a = (*arch)[0].get<std::string>();
    if (a == "arm64") return tl::unexpected(invalid("kindling runs functions on this host's architecture (x86_64); arm64 is not available."));
    if (a != "x86_64") return tl::unexpected(validation(constraint(a, "architectures", "Member must satisfy enum value set: [x86_64, arm64]")));
  }
  if (auto tc = j.find("TracingConfig"); tc != j.end() && tc->is_object()) {
    auto mode = tc->value("Mode", "PassThrough");
    if (mode == "Active") return tl::unexpected(invalid("kindling does not support TracingConfig Mode Active (X-Ray) yet."));
    if (mode != "PassThrough") return tl::unexpected(validation(constraint(mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")));
  }
  if (auto lc = j.find("LoggingConfig"); lc != j.end() && lc->is_object()) {
    auto format = lc->value("LogFormat", "Text");
    if (format != "Text") return tl::unexpected(invalid("kindling supports LoggingConfig LogFormat Text only."));
  }
  if (auto env = j.find("Environment"); env != j.end() && env->is_object()) {
    auto vars = env->find("Variables");
    if (vars != env->end() && vars->is_object()) {
      for (auto it = vars->begin(); it != vars->end(); ++it) {
        if (!it.value().is_string()) return tl::unexpected(validation("Environment variable values must be strings"));
        fn.environment[it.key()] = it.value().get<std::string>();
      }
    }
  }
  KD_TRY_STATUS(validateEnvironment(fn.environment));
  if (auto tags = j.find("Tags"); tags != j.end()) {
    auto parsed = parseTags(*tags);
    if (!parsed) return tl::unexpected(std::move(parsed.error()));
    fn.tags = std::move(*parsed);
  }
  return in;
}

json functionConfiguration(const store::FunctionConfig& fn, std::string_view region) {
  json j;
  j["FunctionName"] = fn.name;
  j["FunctionArn"] = functionArn(region, fn.name);
  j["Runtime"] = fn.runtime;
  j["Role"] = fn.role;
  j["Handler"] = fn.handler;
  j["CodeSize"] = fn.code_size;
  j["Description"] = fn.description;
  j["Timeout"] = fn.timeout_s;
  j["MemorySize"] = fn.memory_mb;
  j["LastModified"] = isoTimestampAws(fn.last_modified_ms);
  j["CodeSha256"] = fn.code_sha256;
  j["Version"] = fn.version;
  if (!fn.environment.empty()) j["Environment"]["Variables"] = fn.environment;
  j["TracingConfig"]["Mode"] = fn.tracing_mode;
  j["RevisionId"] = fn.revision_id;
  j["State"] = "Active";
  j["LastUpdateStatus"] = "Successful";
  j["PackageType"] = fn.package_type;
  j["Architectures"] = json::array({fn.architecture});
  j["EphemeralStorage"]["Size"] = fn.ephemeral_storage_mb;
  j["SnapStart"] = {{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}};
  j["LoggingConfig"] = {{"LogFormat", fn.log_format}, {"LogGroup", "/aws/lambda/" + fn.name}};
  return j;
}

}  // namespace kindling::api
