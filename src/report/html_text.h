// Text helpers of the HTML reports: escaping for HTML text/attributes and for JSON embedded in a
// <script> element, and the number formats shared by tables and chart tooltips.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kindling::report {

// Appends `text` escaped for HTML text and double- or single-quoted attribute values
// (& < > " '); invalid UTF-8 and C0 control characters (except tab/newline) become U+FFFD.
// Thread-safe.
void appendEscaped(std::string& out, std::string_view text);
// appendEscaped into a new string. Thread-safe.
std::string escapeHtml(std::string_view text);
// Appends `doc` serialized as JSON that is safe as the content of a <script> element: every
// '<', '>' and '&' (they can only occur inside JSON strings) is written as \u003c, \u003e,
// \u0026, so "</script>" and "<!--" cannot appear; invalid UTF-8 becomes U+FFFD. Thread-safe.
void appendScriptJson(std::string& out, const nlohmann::json& doc);

// Milliseconds: 2 decimals below 10, 1 below 100, else none ("0.93", "25.1", "312"). Thread-safe.
std::string formatMs(double ms);
// Dollars per 1M invocations: 4 decimals below 10, else 2 ("0.2021"). Thread-safe.
std::string formatUsd(double usd);
// Megabytes: integral when whole ("31"), else 1 decimal. Thread-safe.
std::string formatMb(double mb);
// Plain number for counts and ratios: integral when whole, else up to 3 significant decimals.
// Thread-safe.
std::string formatPlain(double v);
// Formats an optional value with `format`, or "-" when absent. Thread-safe.
std::string formatOr(const std::optional<double>& v, std::string (*format)(double));

}  // namespace kindling::report
