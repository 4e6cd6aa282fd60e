#include "lab/pricing.h"

#include "lab/json_read.h"

namespace kindling::lab {

namespace {

// https://aws.amazon.com/lambda/pricing/ (us-east-1, "Duration" first tier, the first 6 billion
// GB-seconds per month; "Requests" $0.20 per 1M): x86 $0.0000166667 per GB-second, Arm
// $0.0000133334 per GB-second. The free tier is ignored on purpose: it is per account, not per
// invocation.
constexpr double kX86GbSecondUsd = 0.0000166667;
constexpr double kArmGbSecondUsd = 0.0000133334;
constexpr double kRequestUsd = 0.20 / 1'000'000;

}  // namespace

Pricing defaultPricing(Architecture architecture) {
  Pricing p;
  p.architecture = architecture;
  p.gb_second_usd = architecture == Architecture::Arm64 ? kArmGbSecondUsd : kX86GbSecondUsd;
  p.request_usd = kRequestUsd;
  return p;
}

double invocationCostUsd(const Pricing& pricing, double billed_ms, int memory_mb) {
  return billed_ms / 1000.0 * (static_cast<double>(memory_mb) / 1024.0) * pricing.gb_second_usd +
         pricing.request_usd;
}

Result<Architecture> parseArchitecture(std::string_view name) {
  if (name == "x86_64") return Architecture::X86_64;
  if (name == "arm64") return Architecture::Arm64;
  return makeError(ErrorCode::InvalidArgument,
                   "unknown architecture '" + std::string(name) + "' (expected x86_64 or arm64)");
}

std::string_view architectureName(Architecture architecture) {
  switch (architecture) {
    case Architecture::X86_64: return "x86_64";
    case Architecture::Arm64: return "arm64";
  }
  return "x86_64";
}

nlohmann::json toJson(const Pricing& pricing) {
  return nlohmann::json{{"architecture", architectureName(pricing.architecture)},
                        {"gb_second_usd", pricing.gb_second_usd},
                        {"request_usd", pricing.request_usd}};
}

Result<Pricing> pricingFromJson(const nlohmann::json& value, std::string path) {
  JsonReader in(value, std::move(path));
  Pricing p;
  const std::string arch = in.string("architecture");
  p.gb_second_usd = in.number("gb_second_usd");
  p.request_usd = in.number("request_usd");
  if (!in.ok()) return tl::unexpected(in.error());
  auto parsed = parseArchitecture(arch);
  if (!parsed) return tl::unexpected(documentError(in.pathOf("architecture") + ": " + parsed.error().context));
  p.architecture = *parsed;
  if (p.gb_second_usd < 0) {
    return tl::unexpected(documentError(in.pathOf("gb_second_usd") + ": must not be negative"));
  }
  if (p.request_usd < 0) {
    return tl::unexpected(documentError(in.pathOf("request_usd") + ": must not be negative"));
  }
  return p;
}

}  // namespace kindling::lab
