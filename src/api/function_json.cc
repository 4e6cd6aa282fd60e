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
    {"VpcConfig", "functions run on the host network; use the kindling:network tag"},
    {"KMSKeyArn", "environment variables are not encrypted with KMS"},
    {"FileSystemConfigs", "EFS mounts are not available"},
    {"ImageConfig", "container images are not supported"},
    {"CodeSigningConfigArn", "code signing is not supported"},
};

}  // namespace

bool snapStartSupported(std::string_view runtime) {
  // AWS: Java 11 and later, Python 3.12 and later, .NET 8 and later (snapstart.html); the
  // number after the family prefix, e.g. "java21", "python3.13", "dotnet8".
  auto numberAfter = [&](std::string_view prefix) -> int {
    if (runtime.substr(0, prefix.size()) != prefix) return -1;
    std::string_view digits = runtime.substr(prefix.size());
    if (digits.empty() || digits.size() > 3) return -1;
    int v = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return -1;
      v = v * 10 + (ch - '0');
    }
    return v;
  };
  return numberAfter("java") >= 11 || numberAfter("python3.") >= 12 || numberAfter("dotnet") >= 8;
}

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
    if (k == "kindling:java-archive" && v != "auto" && v != "always" && v != "never") {
      return tl::unexpected(
          invalid("Tag kindling:java-archive must be 'auto', 'always' or 'never', got '" + v + "'"));
    }
  }
  return out;
}

Result<std::string> decodeZipFile(const json& code, std::string_view prefix) {
  for (const char* key : {"S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"}) {
    if (code.contains(key) && !code[key].is_null()) {
      return tl::unexpected(invalid("kindling does not support " + std::string(prefix) + key +
                                    ": upload the package inline with ZipFile "
                                    "(--zip-file fileb://function.zip)."));
    }
  }
  auto zip = code.find("ZipFile");
  if (zip == code.end() || !zip->is_string()) {
    return tl::unexpected(invalid(std::string(prefix) + "ZipFile is required: kindling accepts zip packages uploaded inline."));
  }
  auto decoded = base64Decode(zip->get_ref<const std::string&>());
  if (!decoded) {
    return tl::unexpected(invalid("Could not unzip uploaded file. Please check your file, then try to upload again."));
  }
  return std::move(*decoded);
}

Status applyConfiguration(const json& j, store::FunctionConfig& fn,
                          std::optional<std::vector<std::string>>* layer_arns) {
  for (const auto& u : kUnsupported) {
    auto it = j.find(std::string(u.field));
    if (it != j.end() && !it->is_null() && !(it->is_array() && it->empty()) &&
        !(it->is_object() && it->empty())) {
      return tl::unexpected(invalid("kindling does not support " + std::string(u.field) +
                                    " yet: " + std::string(u.why) + "."));
    }
  }
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return std::string("\x01");
    return it->get<std::string>();
  };
  if (auto role = str("Role")) {
    static const std::regex kRole("arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    if (!std::regex_match(*role, kRole)) {
      return tl::unexpected(validation(constraint(*role, "role",
                                                  "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")));
    }
    fn.role = *role;
  }
  if (auto runtime = str("Runtime")) fn.runtime = *runtime;
  if (auto handler = str("Handler")) {
    if (handler->empty() || handler->size() > 128 ||
        handler->find_first_of(" \t\r\n") != std::string::npos) {
      return tl::unexpected(validation(constraint(*handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+")));
    }
    fn.handler = *handler;
  }
  if (auto d = str("Description")) {
    if (d->size() > 256) return tl::unexpected(validation(constraint(*d, "description", "Member must have length less than or equal to 256")));
    fn.description = *d;
  }
  auto integer = [&](const char* key, int& out, int lo, int hi, const char* field) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_number_integer()) return tl::unexpected(validation(std::string(key) + " must be an integer"));
    const int64_t v = it->get<int64_t>();
    if (v < lo) return tl::unexpected(validation(constraint(std::to_string(v), field, "Member must have value greater than or equal to " + std::to_string(lo))));
    if (v > hi) return tl::unexpected(validation(constraint(std::to_string(v), field, "Member must have value less than or equal to " + std::to_string(hi))));
    out = static_cast<int>(v);
    return {};
  };
  KD_TRY_STATUS(integer("MemorySize", fn.memory_mb, 128, 10240, "memorySize"));
  KD_TRY_STATUS(integer("Timeout", fn.timeout_s, 1, 900, "timeout"));
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
    std::map<std::string, std::string> next;
    if (vars != env->end() && vars->is_object()) {
      for (auto it = vars->begin(); it != vars->end(); ++it) {
        if (!it.value().is_string()) return tl::unexpected(validation("Environment variable values must be strings"));
        next[it.key()] = it.value().get<std::string>();
      }
    }
    KD_TRY_STATUS(validateEnvironment(next));
    fn.environment = std::move(next);
  }
  if (auto dlq = j.find("DeadLetterConfig"); dlq != j.end() && dlq->is_object()) {
    auto target = dlq->find("TargetArn");
    std::string arn = target != dlq->end() && target->is_string() ? target->get<std::string>() : "";
    if (!arn.empty()) {
      static const std::regex kSqs("arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\\d{12}:[a-zA-Z0-9_-]{1,80}");
      static const std::regex kSns("arn:aws[a-zA-Z-]*:sns:.*");
      if (std::regex_match(arn, kSns)) {
        return tl::unexpected(invalid("kindling does not support SNS dead-letter targets; use an SQS queue ARN (arn:aws:sqs:<region>:000000000000:<name>), read with `kindling queue receive <name>`."));
      }
      if (!std::regex_match(arn, kSqs)) {
        return tl::unexpected(validation(constraint(arn, "deadLetterConfig.targetArn", "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")));
      }
    }
    fn.dead_letter_arn = arn;
  }
  if (auto ss = j.find("SnapStart"); ss != j.end() && !ss->is_null()) {
    if (!ss->is_object()) return tl::unexpected(validation("SnapStart must be an object"));
    auto apply = ss->find("ApplyOn");
    std::string value(store::kSnapStartNone);  // {"SnapStart": {}} turns it off
    if (apply != ss->end() && !apply->is_null()) value = apply->is_string() ? apply->get<std::string>() : apply->dump();
    if (value != store::kSnapStartNone && value != store::kSnapStartPublishedVersions) {
      return tl::unexpected(validation(constraint(value, "snapStart.applyOn", "Member must satisfy enum value set: [PublishedVersions, None]")));
    }
    fn.snap_start_apply_on = std::move(value);
  }
  // Checked on the resulting configuration: turning SnapStart on, or changing the Runtime of a
  // function that has it on, to a runtime SnapStart does not cover.
  if (fn.snap_start_apply_on == store::kSnapStartPublishedVersions &&
      (j.contains("SnapStart") || j.contains("Runtime")) && !snapStartSupported(fn.runtime)) {
    return tl::unexpected(invalid(fn.runtime + " is not supported for SnapStart enabled functions."));
  }
  if (auto layers = j.find("Layers"); layers != j.end() && !layers->is_null()) {
    if (!layers->is_array()) return tl::unexpected(validation("Layers must be a list of layer version ARNs"));
    std::vector<std::string> arns;
    for (const auto& l : *layers) {
      if (!l.is_string()) return tl::unexpected(validation("Layers must be a list of layer version ARNs"));
      arns.push_back(l.get<std::string>());
    }
    if (layer_arns) *layer_arns = std::move(arns);
  }
  return {};
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

  if (auto pt = str("PackageType"); pt && *pt != "Zip") {
    return tl::unexpected(invalid("kindling does not support PackageType " + *pt +
                                  ": only Zip packages (Code.ZipFile) are supported."));
  }
  if (auto it = j.find("Publish"); it != j.end() && it->is_boolean()) in.publish = it->get<bool>();
  auto code = j.find("Code");
  if (code == j.end() || !code->is_object()) {
    return tl::unexpected(validation(constraint("null", "code", "Member must not be null")));
  }
  auto zip = decodeZipFile(*code, "Code.");
  if (!zip) return tl::unexpected(std::move(zip.error()));
  in.zip_bytes = std::move(*zip);
  if (!j.contains("Runtime") || j["Runtime"].is_null() || !j.contains("Handler") ||
      j["Handler"].is_null()) {
    return tl::unexpected(invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages."));
  }
  if (!j.contains("Role") || j["Role"].is_null()) {
    return tl::unexpected(validation(constraint("null", "role", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")));
  }
  KD_TRY_STATUS(applyConfiguration(j, fn, &in.layer_arns));
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
  j["FunctionArn"] = functionArn(region, fn.name, fn.version == "$LATEST" ? "" : fn.version);
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
  j["SnapStart"] = {{"ApplyOn", fn.snap_start_apply_on},
                    {"OptimizationStatus", store::snapStartOn(fn) ? "On" : "Off"}};
  j["LoggingConfig"] = {{"LogFormat", fn.log_format}, {"LogGroup", "/aws/lambda/" + fn.name}};
  if (!fn.layers.empty()) {
    json layers = json::array();
    for (const auto& l : fn.layers) layers.push_back({{"Arn", l.arn}, {"CodeSize", l.code_size}});
    j["Layers"] = std::move(layers);
  }
  if (!fn.dead_letter_arn.empty()) j["DeadLetterConfig"]["TargetArn"] = fn.dead_letter_arn;
  return j;
}

}  // namespace kindling::api
