#include "lab/pricing.h"

#include <gtest/gtest.h>

namespace kindling::lab {
namespace {

// Absolute tolerance for USD amounts around 1e-7 .. 1e-5: far below a cent per billion calls.
constexpr double kUsdTolerance = 1e-16;

TEST(Pricing, DefaultsAreAwsListPrices) {
  const Pricing x86 = defaultPricing(Architecture::X86_64);
  EXPECT_EQ(x86.architecture, Architecture::X86_64);
  EXPECT_DOUBLE_EQ(x86.gb_second_usd, 0.0000166667);
  EXPECT_DOUBLE_EQ(x86.request_usd, 0.0000002);
  const Pricing arm = defaultPricing(Architecture::Arm64);
  EXPECT_EQ(arm.architecture, Architecture::Arm64);
  EXPECT_DOUBLE_EQ(arm.gb_second_usd, 0.0000133334);
  EXPECT_DOUBLE_EQ(arm.request_usd, 0.0000002);
  // A default-constructed Pricing is the x86 one.
  const Pricing plain;
  EXPECT_DOUBLE_EQ(plain.gb_second_usd, x86.gb_second_usd);
}

TEST(Pricing, CostMatchesHandComputedAwsPrices) {
  const Pricing x86 = defaultPricing(Architecture::X86_64);
  const Pricing arm = defaultPricing(Architecture::Arm64);
  // 128 MB, 100 ms, x86: 0.1 s * 0.125 GB = 0.0125 GB-s; * 0.0000166667 = 0.00000020833375;
  // + 0.0000002 request = 0.00000040833375.
  EXPECT_NEAR(invocationCostUsd(x86, 100, 128), 0.00000040833375, kUsdTolerance);
  // 128 MB, 1 ms, x86: 0.001 * 0.125 = 0.000125 GB-s; * 0.0000166667 = 0.0000000020833375;
  // + 0.0000002 = 0.0000002020833375 (the "$0.2021 per 1M" of a 1 ms hello).
  EXPECT_NEAR(invocationCostUsd(x86, 1, 128), 0.0000002020833375, kUsdTolerance);
  // 1769 MB (one full vCPU), 1000 ms, x86: 1 s * 1769/1024 GB = 1.7275390625 GB-s;
  // * 0.0000166667 = 0.00002879237529296875; + 0.0000002 = 0.00002899237529296875.
  EXPECT_NEAR(invocationCostUsd(x86, 1000, 1769), 0.00002899237529296875, kUsdTolerance);
  // 3008 MB, 250 ms, arm64: 0.25 s * 2.9375 GB = 0.734375 GB-s; * 0.0000133334 =
  // 0.000009791715625; + 0.0000002 = 0.000009991715625.
  EXPECT_NEAR(invocationCostUsd(arm, 250, 3008), 0.000009991715625, kUsdTolerance);
  // 0 ms billed still pays the request.
  EXPECT_DOUBLE_EQ(invocationCostUsd(arm, 0, 3008), 0.0000002);
}

TEST(Pricing, ArchitectureNames) {
  EXPECT_EQ(*parseArchitecture("x86_64"), Architecture::X86_64);
  EXPECT_EQ(*parseArchitecture("arm64"), Architecture::Arm64);
  EXPECT_EQ(architectureName(Architecture::X86_64), "x86_64");
  EXPECT_EQ(architectureName(Architecture::Arm64), "arm64");
  for (const char* bad : {"", "x86", "ARM64", "aarch64", "x86_64 "}) {
    auto r = parseArchitecture(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().context.find("x86_64 or arm64"), std::string::npos);
  }
}

TEST(Pricing, JsonRoundTripAndErrors) {
  const Pricing arm = defaultPricing(Architecture::Arm64);
  const nlohmann::json j = toJson(arm);
  EXPECT_EQ(j.at("architecture"), "arm64");
  EXPECT_DOUBLE_EQ(j.at("gb_second_usd").get<double>(), 0.0000133334);
  EXPECT_DOUBLE_EQ(j.at("request_usd").get<double>(), 0.0000002);
  auto back = pricingFromJson(j);
  ASSERT_TRUE(back.has_value()) << back.error().context;
  EXPECT_EQ(toJson(*back), j);

  nlohmann::json bad = j;
  bad["architecture"] = "sparc";
  auto r = pricingFromJson(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().context.find("pricing.architecture"), std::string::npos) << r.error().context;
  bad = j;
  bad.erase("request_usd");
  r = pricingFromJson(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().context, "pricing.request_usd: missing");
  bad = j;
  bad["gb_second_usd"] = "cheap";
  r = pricingFromJson(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().context, "pricing.gb_second_usd: expected a number, got string");
}

}  // namespace
}  // namespace kindling::lab
