#include "report/html_text.h"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace kindling::report {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len;
  uint32_t cp;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) { len = 2; cp = b0 & 0x1F; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; cp = b0 & 0x0F; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; cp = b0 & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void appendEscaped(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 16);
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    switch (c) {
      case '&': out += "&amp;"; ++i; continue;
      case '<': out += "&lt;"; ++i; continue;
      case '>': out += "&gt;"; ++i; continue;
      case '"': out += "&quot;"; ++i; continue;
      case '\'': out += "&#39;"; ++i; continue;
      default: break;
    }
    const auto b = static_cast<uint8_t>(c);
    if (b < 0x20 && c != '\t' && c != '\n') {
      out += kReplacement;
      ++i;
      continue;
    }
    if (b < 0x80) {
      out += c;
      ++i;
      continue;
    }
    const size_t len = utf8SequenceLength(text, i);
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
}

std::string escapeHtml(std::string_view text) {
  std::string out;
  appendEscaped(out, text);
  return out;
}

void appendScriptJson(std::string& out, const nlohmann::json& doc) {
  const std::string dumped =
      doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.reserve(out.size() + dumped.size() + 64);
  for (char c : dumped) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out += c;
    }
  }
}

std::string formatMs(double ms) {
  const double a = std::fabs(ms);
  if (a < 10) return fmt::format("{:.2f}", ms);
  if (a < 100) return fmt::format("{:.1f}", ms);
  return fmt::format("{:.0f}", ms);
}

std::string formatUsd(double usd) {
  return std::fabs(usd) < 10 ? fmt::format("{:.4f}", usd) : fmt::format("{:.2f}", usd);
}

std::string formatMb(double mb) {
  if (mb == std::floor(mb) && std::fabs(mb) < 1e15) return fmt::format("{:.0f}", mb);
  return fmt::format("{:.1f}", mb);
}

std::string formatPlain(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string formatOr(const std::optional<double>& v, std::string (*format)(double)) {
  return v ? format(*v) : std::string("-");
}

}  // namespace kindling::report
