// parseFunctionRef / functionArn / regionFromAuthorization.
#include "api/function_name.h"

#include <string>

#include <gtest/gtest.h>

namespace kindling::api {
namespace {

constexpr const char* kPatternTail =
    "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression "
    "pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";

TEST(ParseFunctionRefTest, PlainName) {
  auto ref = parseFunctionRef("my-function_1");
  ASSERT_TRUE(ref.has_value()) << ref.error().message();
  EXPECT_EQ(ref->name, "my-function_1");
  EXPECT_EQ(ref->qualifier, "");
  EXPECT_EQ(ref->region, "");
  EXPECT_EQ(ref->account, "");
}

TEST(ParseFunctionRefTest, NameWithQualifier) {
  auto ref = parseFunctionRef("my-function:prod");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->name, "my-function");
  EXPECT_EQ(ref->qualifier, "prod");
  auto latest = parseFunctionRef("my-function:$LATEST");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->qualifier, "$LATEST");
}

TEST(ParseFunctionRefTest, PartialArn) {
  auto ref = parseFunctionRef("123456789012:function:my-function");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->name, "my-function");
  EXPECT_EQ(ref->account, "123456789012");
  EXPECT_EQ(ref->qualifier, "");
  EXPECT_EQ(ref->region, "");
  auto qualified = parseFunctionRef("123456789012:function:my-function:7");
  ASSERT_TRUE(qualified.has_value());
  EXPECT_EQ(qualified->qualifier, "7");
}

TEST(ParseFunctionRefTest, FullArn) {
  auto ref = parseFunctionRef("arn:aws:lambda:eu-west-1:123456789012:function:my-function");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->name, "my-function");
  EXPECT_EQ(ref->region, "eu-west-1");
  EXPECT_EQ(ref->account, "123456789012");
  EXPECT_EQ(ref->qualifier, "");
  auto qualified =
      parseFunctionRef("arn:aws:lambda:us-east-1:000000000000:function:my-function:$LATEST");
  ASSERT_TRUE(qualified.has_value());
  EXPECT_EQ(qualified->region, "us-east-1");
  EXPECT_EQ(qualified->qualifier, "$LATEST");
}

TEST(ParseFunctionRefTest, NameLongerThan64IsInvalidParameter) {
  const std::string name64(64, 'a');
  EXPECT_TRUE(parseFunctionRef(name64).has_value());
  const std::string name65(65, 'a');
  auto ref = parseFunctionRef(name65);
  ASSERT_FALSE(ref.has_value());
  EXPECT_EQ(ref.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(ref.error().context,
            "1 validation error detected: Value '" + name65 +
                "' at 'functionName' failed to satisfy constraint: Member must have length less "
                "than or equal to 64");
}

TEST(ParseFunctionRefTest, OverlongInputIsValidation) {
  const std::string huge(257, 'a');
  auto ref = parseFunctionRef(huge);
  ASSERT_FALSE(ref.has_value());
  EXPECT_EQ(ref.error().code, ErrorCode::Validation);
  EXPECT_EQ(ref.error().context,
            "1 validation error detected: Value '" + huge +
                "' at 'functionName' failed to satisfy constraint: Member must have length less "
                "than or equal to 256");
}

TEST(ParseFunctionRefTest, BadPatternsAreValidationErrors) {
  for (const std::string raw :
       {"my function", "fn/x", "a:b:c", "fn:", "fn:bad qual", "fn:a.b",
        "arn:aws:s3:eu-west-1:123456789012:function:fn",
        "arn:aws:lambda:eu-west-1:12345:function:fn",
        "arn:aws:lambda:eu-west-1:123456789012:layer:fn",
        "arn:aws:lambda:eu-west-1:123456789012:function:fn:1:2",
        "123456789012:function:fn:1:2"}) {
    SCOPED_TRACE(raw);
    auto ref = parseFunctionRef(raw);
    ASSERT_FALSE(ref.has_value());
    EXPECT_EQ(ref.error().code, ErrorCode::Validation);
    EXPECT_EQ(ref.error().context, "1 validation error detected: Value '" + raw + kPatternTail);
  }
}

TEST(FunctionNameTest, IsValidFunctionName) {
  EXPECT_TRUE(isValidFunctionName("a"));
  EXPECT_TRUE(isValidFunctionName("A-b_9"));
  EXPECT_FALSE(isValidFunctionName(""));
  EXPECT_FALSE(isValidFunctionName("a.b"));
  EXPECT_FALSE(isValidFunctionName(std::string(65, 'x')));
}

TEST(FunctionNameTest, FunctionArn) {
  EXPECT_EQ(functionArn("eu-west-1", "fn"), "arn:aws:lambda:eu-west-1:000000000000:function:fn");
  EXPECT_EQ(functionArn("us-east-1", "fn", "$LATEST"),
            "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST");
}

TEST(RegionFromAuthorizationTest, ReadsTheCredentialScope) {
  EXPECT_EQ(regionFromAuthorization(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-central-1/lambda/"
                "aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
                std::string(64, 'a')),
            "eu-central-1");
  EXPECT_EQ(regionFromAuthorization(
                "AWS4-HMAC-SHA256 Credential=AKID/20240101/ap-south-1/lambda/aws4_request,"
                "SignedHeaders=host,Signature=00"),
            "ap-south-1");
}

TEST(RegionFromAuthorizationTest, EmptyWhenAbsentOrMalformed) {
  EXPECT_EQ(regionFromAuthorization(""), "");
  EXPECT_EQ(regionFromAuthorization("Bearer token"), "");
  EXPECT_EQ(regionFromAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-west-2"), "");
}

}  // namespace
}  // namespace kindling::api
