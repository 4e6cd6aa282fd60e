// Lambda pricing for bench and tune: the price of one invocation from its billed duration and
// memory size, the way AWS (and AWS Lambda Power Tuning) compute it. Prices are data so a run can
// record the ones it used; defaults are AWS's published list prices.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace kindling::lab {

enum class Architecture { X86_64, Arm64 };

struct Pricing {
  Architecture architecture = Architecture::X86_64;
  double gb_second_usd = 0.0000166667;
  double request_usd = 0.0000002;
};

// AWS list prices, us-east-1, first duration tier. Pure; thread-safe.
Pricing defaultPricing(Architecture architecture);

// Cost of one invocation: billed_ms / 1000 * memory_mb / 1024 * gb_second_usd + request_usd.
// Pure; thread-safe.
double invocationCostUsd(const Pricing& pricing, double billed_ms, int memory_mb);

// "x86_64" | "arm64" (exact); anything else is an InvalidArgument error. Pure; thread-safe.
Result<Architecture> parseArchitecture(std::string_view name);
// "x86_64" | "arm64". Pure; thread-safe.
std::string_view architectureName(Architecture architecture);

// {"architecture","gb_second_usd","request_usd"}. Pure; thread-safe.
nlohmann::json toJson(const Pricing& pricing);
// Inverse of toJson; `path` names the object in errors ("pricing"). Pure; thread-safe.
Result<Pricing> pricingFromJson(const nlohmann::json& value, std::string path = "pricing");

}  // namespace kindling::lab
