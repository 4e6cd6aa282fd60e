// parseCreateFunction validation (AWS's messages and error codes) and functionConfiguration.
#include "api/function_json.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace kindling::api {
namespace {

using nlohmann::json;

constexpr const char* kRole = "arn:aws:iam::123456789012:role/lambda-role";
constexpr const char* kRolePattern =
    "Member must satisfy regular expression pattern: "
    "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";

json validBody() {
  return json{{"FunctionName", "my-fn"},
              {"Role", kRole},
              {"Runtime", "python3.11"},
              {"Handler", "app.handler"},
              {"Code", {{"ZipFile", base64Encode("PK\x03\x04 not really a zip")}}}};
}

Error parseError(const json& body) {
  auto in = parseCreateFunction(body.dump());
  if (in.has_value()) {
    ADD_FAILURE() << "expected an error for " << body.dump();
    return Error{};
  }
  return in.error();
}

TEST(ParseCreateFunctionTest, ValidBodyWithDefaults) {
  auto in = parseCreateFunction(validBody().dump());
  ASSERT_TRUE(in.has_value()) << in.error().message();
  const store::FunctionConfig& fn = in->config;
  EXPECT_EQ(fn.name, "my-fn");
  EXPECT_EQ(fn.role, kRole);
  EXPECT_EQ(fn.runtime, "python3.11");
  EXPECT_EQ(fn.handler, "app.handler");
  EXPECT_EQ(fn.memory_mb, 128);
  EXPECT_EQ(fn.timeout_s, 3);
  EXPECT_EQ(fn.ephemeral_storage_mb, 512);
  EXPECT_EQ(fn.architecture, "x86_64");
  EXPECT_TRUE(fn.environment.empty());
  EXPECT_EQ(in->zip_bytes, std::string("PK\x03\x04 not really a zip"));
}

TEST(ParseCreateFunctionTest, ReadsOptionalFields) {
  json body = validBody();
  body["MemorySize"] = 10240;
  body["Timeout"] = 900;
  body["Description"] = "d";
  body["EphemeralStorage"] = {{"Size", 2048}};
  body["Architectures"] = {"x86_64"};
  body["Environment"] = {{"Variables", {{"A1", "x"}, {"B_2", "y"}}}};
  body["Tags"] = {{"team", "core"}};
  body["Layers"] = json::array();   // empty: accepted
  body["VpcConfig"] = json::object();
  auto in = parseCreateFunction(body.dump());
  ASSERT_TRUE(in.has_value()) << in.error().message();
  EXPECT_EQ(in->config.memory_mb, 10240);
  EXPECT_EQ(in->config.timeout_s, 900);
  EXPECT_EQ(in->config.description, "d");
  EXPECT_EQ(in->config.ephemeral_storage_mb, 2048);
  EXPECT_EQ(in->config.environment, (std::map<std::string, std::string>{{"A1", "x"}, {"B_2", "y"}}));
  EXPECT_EQ(in->config.tags, (std::map<std::string, std::string>{{"team", "core"}}));
}

TEST(ParseCreateFunctionTest, NotJsonIsValidation) {
  auto in = parseCreateFunction("{not json");
  ASSERT_FALSE(in.has_value());
  EXPECT_EQ(in.error().code, ErrorCode::Validation);
  EXPECT_EQ(in.error().context, "Request body is not a JSON object");
}

TEST(ParseCreateFunctionTest, MissingRole) {
  json body = validBody();
  body.erase("Role");
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context, std::string("1 validation error detected: Value 'null' at 'role' failed to "
                                   "satisfy constraint: ") + kRolePattern);
}

TEST(ParseCreateFunctionTest, MalformedRole) {
  json body = validBody();
  body["Role"] = "arn:aws:iam::12:role/x";
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context, std::string("1 validation error detected: Value 'arn:aws:iam::12:role/x' at "
                                   "'role' failed to satisfy constraint: ") + kRolePattern);
}

TEST(ParseCreateFunctionTest, MemoryBounds) {
  json body = validBody();
  body["MemorySize"] = 127;
  Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value '127' at 'memorySize' failed to satisfy "
            "constraint: Member must have value greater than or equal to 128");
  body["MemorySize"] = 10241;
  e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
            "constraint: Member must have value less than or equal to 10240");
  body["MemorySize"] = "256";
  EXPECT_EQ(parseError(body).code, ErrorCode::Validation);
}

TEST(ParseCreateFunctionTest, TimeoutBounds) {
  json body = validBody();
  body["Timeout"] = 0;
  Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1");
  body["Timeout"] = 901;
  e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900");
}

TEST(ParseCreateFunctionTest, LayersDeadLetterAndPublishAreRead) {
  json body = validBody();
  body["Layers"] = json::array({"arn:aws:lambda:us-east-1:000000000000:layer:l:1"});
  body["DeadLetterConfig"] = {{"TargetArn", "arn:aws:sqs:us-east-1:000000000000:dlq"}};
  body["Publish"] = true;
  auto in = parseCreateFunction(body.dump());
  ASSERT_TRUE(in.has_value()) << in.error().message();
  ASSERT_TRUE(in->layer_arns.has_value());
  EXPECT_EQ(*in->layer_arns, std::vector<std::string>{"arn:aws:lambda:us-east-1:000000000000:layer:l:1"});
  EXPECT_EQ(in->config.dead_letter_arn, "arn:aws:sqs:us-east-1:000000000000:dlq");
  EXPECT_TRUE(in->publish);
  body["DeadLetterConfig"] = {{"TargetArn", "not-an-arn"}};
  EXPECT_EQ(parseError(body).code, ErrorCode::Validation);
}

TEST(ApplyConfigurationTest, UpdatesOnlyGivenFieldsWithValidation) {
  store::FunctionConfig fn;
  fn.runtime = "python3.11";
  fn.handler = "app.handler";
  fn.memory_mb = 256;
  fn.environment = {{"A", "1"}};
  json update = {{"MemorySize", 1024}, {"Environment", {{"Variables", {{"BB", "2"}}}}}};
  ASSERT_TRUE(applyConfiguration(update, fn, nullptr).has_value());
  EXPECT_EQ(fn.memory_mb, 1024);
  EXPECT_EQ(fn.handler, "app.handler");
  EXPECT_EQ(fn.environment, (std::map<std::string, std::string>{{"BB", "2"}}));
  auto bad = applyConfiguration(json{{"MemorySize", 64}}, fn, nullptr);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::Validation);
  EXPECT_EQ(fn.memory_mb, 1024);
  auto reserved = applyConfiguration(json{{"Environment", {{"Variables", {{"AWS_REGION", "x"}}}}}}, fn, nullptr);
  ASSERT_FALSE(reserved.has_value());
  EXPECT_EQ(reserved.error().code, ErrorCode::InvalidArgument);
  auto timeout = applyConfiguration(json{{"Timeout", 901}}, fn, nullptr);
  ASSERT_FALSE(timeout.has_value());
}

TEST(ParseCreateFunctionTest, S3AndImageCodeAreRefused) {
  for (const char* key : {"S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"}) {
    SCOPED_TRACE(key);
    json body = validBody();
    body["Code"] = {{key, "x"}};
    const Error e = parseError(body);
    EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
    EXPECT_EQ(e.context, std::string("kindling does not support Code.") + key +
                             ": upload the package inline with ZipFile (--zip-file "
                             "fileb://function.zip).");
  }
}

TEST(ParseCreateFunctionTest, MissingZipFileIsRefused) {
  json body = validBody();
  body["Code"] = json::object();
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
  EXPECT_EQ(e.context,
            "Code.ZipFile is required: kindling accepts zip packages uploaded inline.");
}

TEST(ParseCreateFunctionTest, BadBase64) {
  json body = validBody();
  body["Code"] = {{"ZipFile", "!!!not base64!!!"}};
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
  EXPECT_EQ(e.context,
            "Could not unzip uploaded file. Please check your file, then try to upload again.");
}

TEST(ParseCreateFunctionTest, EnvironmentLimitIs4KBOfCompactJson) {
  // {"K1":"<v>"} is 9 bytes + the value: 4087 characters measure exactly 4096.
  json body = validBody();
  body["Environment"] = {{"Variables", {{"K1", std::string(4087, 'v')}}}};
  EXPECT_TRUE(parseCreateFunction(body.dump()).has_value());
  body["Environment"] = {{"Variables", {{"K1", std::string(4088, 'v')}}}};
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
  EXPECT_EQ(e.context,
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: {\"K1\":\"" +
                std::string(4088, 'v') + "\"}");
}

TEST(ParseCreateFunctionTest, ReservedEnvironmentKey) {
  json body = validBody();
  body["Environment"] = {{"Variables", {{"AWS_REGION", "eu-west-1"}}}};
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
  EXPECT_EQ(e.context,
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            "for modification. Reserved keys used in this request: AWS_REGION");
}

TEST(ParseCreateFunctionTest, BadEnvironmentKeyPattern) {
  json body = validBody();
  body["Environment"] = {{"Variables", {{"1BAD", "x"}}}};
  const Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value '1BAD' at 'environment.variables' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+");
}

TEST(ParseCreateFunctionTest, Arm64IsRefused) {
  json body = validBody();
  body["Architectures"] = {"arm64"};
  Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
  EXPECT_EQ(e.context,
            "kindling runs functions on this host's architecture (x86_64); arm64 is not "
            "available.");
  body["Architectures"] = {"x86_64", "arm64"};
  e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  body["Architectures"] = {"mips"};
  e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value 'mips' at 'architectures' failed to satisfy "
            "constraint: Member must satisfy enum value set: [x86_64, arm64]");
}

TEST(ParseCreateFunctionTest, UnsupportedFieldsAreRefusedNotIgnored) {
  struct Case {
    const char* field;
    json value;
    const char* message;
  };
  const Case cases[] = {
      {"VpcConfig", json{{"SubnetIds", {"subnet-1"}}},
       "kindling does not support VpcConfig yet: functions run on the host network; use the "
       "kindling:network tag."},
      {"DeadLetterConfig", json{{"TargetArn", "arn:aws:sns:us-east-1:123456789012:t"}},
       "kindling does not support SNS dead-letter targets; use an SQS queue ARN "
       "(arn:aws:sqs:<region>:000000000000:<name>), read with `kindling queue receive <name>`."},
      {"KMSKeyArn", "arn:aws:kms:us-east-1:123456789012:key/k",
       "kindling does not support KMSKeyArn yet: environment variables are not encrypted with "
       "KMS."},
      {"FileSystemConfigs", json::array({json{{"Arn", "a"}, {"LocalMountPath", "/mnt/x"}}}),
       "kindling does not support FileSystemConfigs yet: EFS mounts are not available."},
      {"ImageConfig", json{{"Command", {"x"}}},
       "kindling does not support ImageConfig yet: container images are not supported."},
      {"CodeSigningConfigArn", "arn:aws:lambda:us-east-1:123456789012:code-signing-config:c",
       "kindling does not support CodeSigningConfigArn yet: code signing is not supported."},
      {"PackageType", "Image",
       "kindling does not support PackageType Image: only Zip packages (Code.ZipFile) are "
       "supported."},
      {"TracingConfig", json{{"Mode", "Active"}},
       "kindling does not support TracingConfig Mode Active (X-Ray) yet."},
      {"LoggingConfig", json{{"LogFormat", "JSON"}},
       "kindling supports LoggingConfig LogFormat Text only."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    json body = validBody();
    body[c.field] = c.value;
    const Error e = parseError(body);
    EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
    EXPECT_EQ(e.context, c.message);
  }
}

TEST(ParseCreateFunctionTest, QualifiedFunctionNameIsRefused) {
  json body = validBody();
  body["FunctionName"] = "my-fn:prod";
  EXPECT_EQ(parseError(body).code, ErrorCode::Validation);
  body["FunctionName"] = "arn:aws:lambda:eu-west-1:123456789012:function:from-arn";
  auto in = parseCreateFunction(body.dump());
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->config.name, "from-arn");
}

TEST(ParseCreateFunctionTest, MissingRuntimeOrHandler) {
  for (const char* key : {"Runtime", "Handler"}) {
    SCOPED_TRACE(key);
    json body = validBody();
    body.erase(key);
    const Error e = parseError(body);
    EXPECT_EQ(e.code, ErrorCode::InvalidArgument);
    EXPECT_EQ(e.context,
              "Runtime and Handler are mandatory parameters for functions created with "
              "deployment packages.");
  }
}

TEST(FunctionConfigurationTest, RendersAwsFields) {
  store::FunctionConfig fn;
  fn.name = "my-fn";
  fn.runtime = "nodejs20.x";
  fn.handler = "index.handler";
  fn.role = kRole;
  fn.description = "desc";
  fn.memory_mb = 512;
  fn.timeout_s = 30;
  fn.ephemeral_storage_mb = 1024;
  fn.code_size = 1234;
  fn.code_sha256 = "YFgDgEKG3ugvF1+pX64gV6tu9qNuIYNUdgJm8nCxsm4=";
  fn.last_modified_ms = 1700000000123;
  fn.revision_id = "11111111-2222-4333-8444-555555555555";
  fn.environment = {{"A", "1"}};

  const json j = functionConfiguration(fn, "eu-west-1");
  EXPECT_EQ(j["FunctionName"], "my-fn");
  EXPECT_EQ(j["FunctionArn"], "arn:aws:lambda:eu-west-1:000000000000:function:my-fn");
  EXPECT_EQ(j["Runtime"], "nodejs20.x");
  EXPECT_EQ(j["Role"], kRole);
  EXPECT_EQ(j["Handler"], "index.handler");
  EXPECT_EQ(j["CodeSize"], 1234);
  EXPECT_EQ(j["Description"], "desc");
  EXPECT_EQ(j["Timeout"], 30);
  EXPECT_EQ(j["MemorySize"], 512);
  EXPECT_EQ(j["LastModified"], "2023-11-14T22:13:20.123+0000");
  EXPECT_EQ(j["CodeSha256"], "YFgDgEKG3ugvF1+pX64gV6tu9qNuIYNUdgJm8nCxsm4=");
  EXPECT_EQ(j["Version"], "$LATEST");
  EXPECT_EQ(j["Environment"], (json{{"Variables", {{"A", "1"}}}}));
  EXPECT_EQ(j["TracingConfig"], (json{{"Mode", "PassThrough"}}));
  EXPECT_EQ(j["RevisionId"], "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(j["State"], "Active");
  EXPECT_EQ(j["LastUpdateStatus"], "Successful");
  EXPECT_EQ(j["PackageType"], "Zip");
  EXPECT_EQ(j["Architectures"], json::array({"x86_64"}));
  EXPECT_EQ(j["EphemeralStorage"], (json{{"Size", 1024}}));
  EXPECT_EQ(j["LoggingConfig"], (json{{"LogFormat", "Text"}, {"LogGroup", "/aws/lambda/my-fn"}}));

  fn.environment.clear();
  EXPECT_FALSE(functionConfiguration(fn, "eu-west-1").contains("Environment"));
}

// ---- SnapStart (botocore SnapStart / SnapStartResponse; AWS's texts as LocalStack records them)

TEST(SnapStartTest, SupportedRuntimesAreAwsOnes) {
  for (const char* rt : {"java11", "java17", "java21", "java25", "python3.12", "python3.13",
                         "python3.14", "dotnet8", "dotnet10"}) {
    EXPECT_TRUE(snapStartSupported(rt)) << rt;
  }
  for (const char* rt : {"java8", "java8.al2", "python3.11", "python3.9", "python3.1",
                         "nodejs20.x", "nodejs22.x", "ruby3.2", "ruby3.3", "provided.al2023",
                         "provided", "dotnet6", "go1.x", "", "java", "python3.", "java11x"}) {
    EXPECT_FALSE(snapStartSupported(rt)) << rt;
  }
}

TEST(SnapStartTest, CreateReadsApplyOn) {
  json body = validBody();
  body["Runtime"] = "python3.12";
  body["SnapStart"] = {{"ApplyOn", "PublishedVersions"}};
  auto in = parseCreateFunction(body.dump());
  ASSERT_TRUE(in.has_value()) << in.error().message();
  EXPECT_EQ(in->config.snap_start_apply_on, "PublishedVersions");

  body["SnapStart"] = {{"ApplyOn", "None"}};
  in = parseCreateFunction(body.dump());
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->config.snap_start_apply_on, "None");
  // Absent: None (the FunctionConfig default).
  in = parseCreateFunction(validBody().dump());
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->config.snap_start_apply_on, "None");
}

TEST(SnapStartTest, BadApplyOnIsValidationException) {
  json body = validBody();
  body["Runtime"] = "java21";
  body["SnapStart"] = {{"ApplyOn", "Always"}};
  Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::Validation);
  EXPECT_EQ(e.context,
            "1 validation error detected: Value 'Always' at 'snapStart.applyOn' failed to "
            "satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]");
}

TEST(SnapStartTest, UnsupportedRuntimeIsInvalidParameterValue) {
  for (const char* rt : {"python3.11", "nodejs20.x", "ruby3.2", "provided.al2023"}) {
    json body = validBody();
    body["Runtime"] = rt;
    body["SnapStart"] = {{"ApplyOn", "PublishedVersions"}};
    Error e = parseError(body);
    EXPECT_EQ(e.code, ErrorCode::InvalidArgument) << rt;
    EXPECT_EQ(e.context, std::string(rt) + " is not supported for SnapStart enabled functions.");
    // ApplyOn None is fine on any runtime.
    body["SnapStart"] = {{"ApplyOn", "None"}};
    EXPECT_TRUE(parseCreateFunction(body.dump()).has_value()) << rt;
  }
}

TEST(SnapStartTest, UpdateChecksTheResultingConfiguration) {
  store::FunctionConfig fn;
  fn.runtime = "python3.12";
  ASSERT_TRUE(applyConfiguration(json{{"SnapStart", {{"ApplyOn", "PublishedVersions"}}}}, fn,
                                 nullptr).has_value());
  EXPECT_EQ(fn.snap_start_apply_on, "PublishedVersions");
  // Other updates keep it.
  ASSERT_TRUE(applyConfiguration(json{{"Timeout", 9}}, fn, nullptr).has_value());
  EXPECT_EQ(fn.snap_start_apply_on, "PublishedVersions");
  // Moving a SnapStart function to a runtime without SnapStart is refused.
  auto st = applyConfiguration(json{{"Runtime", "nodejs20.x"}}, fn, nullptr);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().context, "nodejs20.x is not supported for SnapStart enabled functions.");
  // ...unless SnapStart is turned off in the same update.
  store::FunctionConfig copy = fn;
  ASSERT_TRUE(applyConfiguration(json{{"Runtime", "nodejs20.x"}, {"SnapStart", {{"ApplyOn", "None"}}}},
                                 copy, nullptr).has_value());
  EXPECT_EQ(copy.snap_start_apply_on, "None");
  EXPECT_EQ(copy.runtime, "nodejs20.x");
  // {} turns it off too.
  ASSERT_TRUE(applyConfiguration(json{{"SnapStart", json::object()}}, fn, nullptr).has_value());
  EXPECT_EQ(fn.snap_start_apply_on, "None");
}

TEST(SnapStartTest, ConfigurationShowsApplyOnAndOptimizationStatus) {
  store::FunctionConfig fn;
  fn.name = "f";
  fn.runtime = "python3.12";
  EXPECT_EQ(functionConfiguration(fn, "us-east-1")["SnapStart"],
            (json{{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}}));
  fn.snap_start_apply_on = "PublishedVersions";
  // $LATEST: as configured, never optimised.
  EXPECT_EQ(functionConfiguration(fn, "us-east-1")["SnapStart"],
            (json{{"ApplyOn", "PublishedVersions"}, {"OptimizationStatus", "Off"}}));
  fn.version = "2";
  EXPECT_EQ(functionConfiguration(fn, "us-east-1")["SnapStart"],
            (json{{"ApplyOn", "PublishedVersions"}, {"OptimizationStatus", "On"}}));
  fn.snap_start_apply_on = "None";
  EXPECT_EQ(functionConfiguration(fn, "us-east-1")["SnapStart"],
            (json{{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}}));
}

}  // namespace
}  // namespace kindling::api
