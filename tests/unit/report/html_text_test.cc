#include "report/html_text.h"

#include <gtest/gtest.h>

#include "report/chart_model.h"

namespace kindling::report {
namespace {

TEST(HtmlText, EscapesMarkupCharacters) {
  EXPECT_EQ(escapeHtml("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
  EXPECT_EQ(escapeHtml("plain text"), "plain text");
  EXPECT_EQ(escapeHtml(""), "");
}

TEST(HtmlText, KeepsValidUtf8AndReplacesInvalid) {
  const std::string valid = "caf\xC3\xA9 \xC2\xB7 \xF0\x9F\x9A\x80";
  EXPECT_EQ(escapeHtml(valid), valid);
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(escapeHtml("a\xFFz"), "a" + kFffd + "z");
  EXPECT_EQ(escapeHtml("\xC0\xAF"), kFffd + kFffd);           // overlong '/'
  EXPECT_EQ(escapeHtml("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(escapeHtml("\xE2\x82"), kFffd + kFffd);           // truncated
  EXPECT_EQ(escapeHtml(std::string("a\0b", 3)), "a" + kFffd + "b");
  EXPECT_EQ(escapeHtml("tab\tnl\n"), "tab\tnl\n");
}

TEST(HtmlText, ScriptJsonCannotCloseItsElement) {
  const nlohmann::json doc = {{"label", "</script><!--<script>&"}, {"n", 1.5}, {"a", {1, 2}}};
  std::string out;
  appendScriptJson(out, doc);
  EXPECT_EQ(out.find('<'), std::string::npos) << out;
  EXPECT_EQ(out.find('>'), std::string::npos) << out;
  EXPECT_EQ(out.find('&'), std::string::npos) << out;
  EXPECT_NE(out.find("\\u003c/script\\u003e"), std::string::npos) << out;
  EXPECT_EQ(nlohmann::json::parse(out), doc);
}

TEST(HtmlText, ScriptJsonSurvivesInvalidUtf8) {
  std::string out;
  appendScriptJson(out, nlohmann::json{{"bad", std::string("x\xFFy")}});
  auto back = nlohmann::json::parse(out);
  EXPECT_EQ(back["bad"], "x\xEF\xBF\xBDy");
}

TEST(HtmlText, NumberFormats) {
  EXPECT_EQ(formatMs(0.934), "0.93");
  EXPECT_EQ(formatMs(25.13), "25.1");
  EXPECT_EQ(formatMs(312.4), "312");
  EXPECT_EQ(formatUsd(0.20213), "0.2021");
  EXPECT_EQ(formatUsd(12.345), "12.35");
  EXPECT_EQ(formatMb(31), "31");
  EXPECT_EQ(formatMb(36.94), "36.9");
  EXPECT_EQ(formatPlain(3), "3");
  EXPECT_EQ(formatPlain(0.25), "0.25");
  EXPECT_EQ(formatOr(std::nullopt, formatMs), "-");
  EXPECT_EQ(formatOr(2.0, formatMs), "2.00");
}

TEST(HtmlText, LogScaleRule) {
  EXPECT_TRUE(wantsLogScale(3, 1000));    // cold starts 3 ms .. 1 s
  EXPECT_FALSE(wantsLogScale(3, 90));     // exactly 30x: linear
  EXPECT_TRUE(wantsLogScale(3, 90.5));
  EXPECT_FALSE(wantsLogScale(std::numeric_limits<double>::infinity(), 5));  // no positive value
  EXPECT_FALSE(wantsLogScale(0, 5));
}

}  // namespace
}  // namespace kindling::report
