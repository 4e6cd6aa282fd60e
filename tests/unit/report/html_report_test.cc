#include "report/html_report.h"

#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "report/chart_script.h"
#include "report_fixtures.h"

namespace kindling::report {
namespace {

using testing::benchDoc;
using testing::Json;
using testing::tuneDoc;

constexpr std::string_view kDataOpen = "<script type=\"application/json\" id=\"kindling-data\">";
constexpr const char* kBenchCharts[] = {"cold-start",      "cold-samples", "warm-latency",
                                        "duration-memory", "cost-memory",  "max-memory"};
const std::string kEvil = "</script><b>bold</b>\"q\" & 'a' <!-- x";

size_t count(const std::string& hay, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1))
    ++n;
  return n;
}

// The embedded data block, parsed; fails the test when absent or unparsable.
Json embeddedData(const std::string& html) {
  const size_t open = html.find(kDataOpen);
  EXPECT_NE(open, std::string::npos);
  if (open == std::string::npos) return nullptr;
  const size_t begin = open + kDataOpen.size();
  const size_t end = html.find("</script>", begin);
  EXPECT_NE(end, std::string::npos);
  return Json::parse(html.substr(begin, end - begin), nullptr, false);
}

// The document with its data block removed (what the page itself says and links).
std::string withoutData(const std::string& html) {
  const size_t open = html.find(kDataOpen);
  const size_t end = html.find("</script>", open);
  return html.substr(0, open) + html.substr(end);
}

void expectNoNetworkReferences(const std::string& html) {
  const std::string page = withoutData(html);
  // no attribute may point anywhere but inside the page
  static const std::regex kAttr(R"re(\b(src|href|srcset|action|poster)\s*=)re",
                                std::regex::icase);
  for (auto it = std::sregex_iterator(page.begin(), page.end(), kAttr);
       it != std::sregex_iterator(); ++it) {
    const std::string rest = page.substr(static_cast<size_t>(it->position()), 80);
    EXPECT_TRUE(rest.rfind("href=\"#", 0) == 0) << "attribute pointing outside: " << rest;
  }
  for (const char* bad : {"<link", "<img", "<iframe", "@import", "url(", "//cdn"})
    EXPECT_EQ(page.find(bad), std::string::npos) << bad;
  // the code and style shipped in every report mention no URL scheme at all
  for (std::string_view s : {chartScript(), reportStyle()}) {
    EXPECT_EQ(s.find("http:"), std::string_view::npos);
    EXPECT_EQ(s.find("https:"), std::string_view::npos);
    EXPECT_EQ(s.find("</"), std::string_view::npos);
  }
  // "http://" may appear only as escaped text of the document (the endpoint, compare source)
  for (size_t pos = page.find("http"); pos != std::string::npos; pos = page.find("http", pos + 1)) {
    const std::string before = page.substr(pos < 12 ? 0 : pos - 12, pos < 12 ? pos : 12);
    EXPECT_EQ(before.find('='), std::string::npos) << "URL in an attribute near: " << before;
  }
}

TEST(HtmlReport, BenchHasEveryChartTheDataAndEndsWithDecisions) {
  const Json doc = benchDoc();
  const std::string html = renderBenchHtml(doc);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* name : kBenchCharts)
    EXPECT_NE(html.find(std::string("<svg class=\"chart\" data-chart=\"") + name + "\""),
              std::string::npos)
        << name;
  const Json data = embeddedData(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["source"], doc);
  ASSERT_EQ(data["charts"].size(), 6u);
  EXPECT_EQ(data["charts"][0]["name"], "cold-start");
  // inline style + script, exactly two script elements, no external anything
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_EQ(count(html, "<style>"), 1u);
  expectNoNetworkReferences(html);
  // sections in reading order, the decision table last of all
  const size_t cells = html.find("<section id=\"cells\">");
  const size_t compare = html.find("<section id=\"compare\">");
  const size_t failures = html.find("<section id=\"failures\">");
  const size_t decisions = html.find("<section id=\"decisions\">");
  ASSERT_NE(decisions, std::string::npos);
  EXPECT_LT(html.find("<section id=\"charts\">"), cells);
  EXPECT_LT(cells, compare);
  EXPECT_LT(compare, failures);
  EXPECT_LT(failures, decisions);
  EXPECT_EQ(html.rfind("<table"), html.find("<table class=\"decisions\">"));
  EXPECT_EQ(html.substr(html.rfind("</table>")),
            "</table>\n</section>\n</main>\n</body>\n</html>\n");
  // decisions with their numbers and units, linked to their cell rows
  EXPECT_NE(html.find("$0.2021 per 1M invocations"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#cell-0\">python3.12</a></td><td>128</td><td class=\"value\">"
                      "40.0 ms</td>"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"cell-7\""), std::string::npos);
  // header: what, where, when, cold/warm per cell, pricing
  EXPECT_NE(html.find("bench-host"), std::string::npos);
  EXPECT_NE(html.find("2026-11-26 20:01:02 UTC"), std::string::npos);
  EXPECT_NE(html.find("3 cold, 4 warm"), std::string::npos);
  EXPECT_NE(html.find("per GB-second"), std::string::npos);
}

TEST(HtmlReport, CompareTablePutsAwsBesideLocal) {
  const std::string html = renderBenchHtml(benchDoc());
  EXPECT_NE(html.find("AWS (lambda-perf, 2026-08-22) vs local"), std::string::npos);
  // python3.12 128 MB hello: local p50 Init 40 ms vs AWS mean 85.226 ms
  EXPECT_NE(html.find("<td>40.0</td><td>85.2</td><td>0.47×</td>"), std::string::npos);
  const std::string no_compare = renderBenchHtml([] {
    Json d = benchDoc();
    d["compare"] = nullptr;
    return d;
  }());
  EXPECT_EQ(no_compare.find("<section id=\"compare\">"), std::string::npos);
  EXPECT_EQ(no_compare.find("vs local"), std::string::npos);
}

TEST(HtmlReport, HostileStringsAreEscapedEverywhere) {
  Json doc = benchDoc(kEvil, ("Sandbox.Timedout " + kEvil).c_str());
  doc["cells"][1]["notes"] = {kEvil};
  doc["meta"]["host"] = kEvil;
  const std::string html = renderBenchHtml(doc);
  // only our two script elements; nothing from the document became markup
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_EQ(html.find("<b>bold</b>"), std::string::npos);
  EXPECT_EQ(html.find("<!-- x"), std::string::npos);
  const std::string escaped =
      "&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;&quot;q&quot; &amp; &#39;a&#39; &lt;!-- x";
  EXPECT_GE(count(html, escaped), 4u);  // runtime cells, notes, error row, host
  EXPECT_NE(html.find("Sandbox.Timedout " + escaped), std::string::npos);
  // the data block holds the exact strings, escaped for JSON
  const Json data = embeddedData(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["source"]["meta"]["host"], kEvil);
  EXPECT_EQ(data["charts"][0]["points"][0]["dx"], kEvil + "/hello");
  expectNoNetworkReferences(html);
}

TEST(HtmlReport, MissingAndMistypedFieldsNeverCrash) {
  Json odd = benchDoc();
  odd["cells"][0]["stats"] = "oops";
  odd["cells"][1]["samples"] = {nullptr, 3, "x", Json::object(), {{"error", 5}}};
  odd["cells"][2] = nullptr;
  odd["cells"][3]["memory_mb"] = Json::array();
  odd["decisions"] = {nullptr, {{"value", "fast"}}, {{"workload", 1}, {"unit", "ms"}}};
  odd["compare"]["figures"] = {nullptr, {{"runtime", 5}}, {{"runtime", "python3.12"}}};
  odd["meta"] = "not an object";
  odd["pricing"] = 1;
  for (const Json& doc : {Json(), Json(3), Json("x"), Json::array(), Json::object(),
                          Json{{"cells", "x"}, {"decisions", 2}, {"compare", "y"}}, odd}) {
    const std::string html = renderBenchHtml(doc);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << doc.dump();
    EXPECT_NE(html.find("<table class=\"decisions\">"), std::string::npos) << doc.dump();
    EXPECT_TRUE(embeddedData(html).is_object()) << doc.dump();
    const std::string tune = renderTuneHtml(doc);
    EXPECT_EQ(tune.rfind("<!DOCTYPE html>", 0), 0u) << doc.dump();
    EXPECT_NE(tune.find("data-chart=\"tune-cost\""), std::string::npos);
  }
  const std::string html = renderBenchHtml(odd);
  EXPECT_NE(html.find("<td class=\"l err\">5</td>"), std::string::npos);  // error as JSON text
}

TEST(HtmlReport, EmptyCellsStillRender) {
  Json doc = benchDoc();
  doc["cells"] = Json::array();
  doc["decisions"] = Json::array();
  doc["compare"] = nullptr;
  const std::string html = renderBenchHtml(doc);
  for (const char* name : kBenchCharts)
    EXPECT_NE(html.find(std::string("data-chart=\"") + name + "\""), std::string::npos);
  EXPECT_NE(html.find("no cells"), std::string::npos);
  EXPECT_NE(html.find("no decision"), std::string::npos);
  EXPECT_EQ(html.find("<section id=\"failures\">"), std::string::npos);
  EXPECT_EQ(html.substr(html.rfind("</table>")),
            "</table>\n</section>\n</main>\n</body>\n</html>\n");
}

TEST(HtmlReport, InvalidUtf8DoesNotBreakTheReport) {
  Json doc = benchDoc();
  doc["cells"][0]["runtime"] = std::string("py\xFF");
  const std::string html = renderBenchHtml(doc);
  EXPECT_NE(html.find("py\xEF\xBF\xBD"), std::string::npos);
  EXPECT_TRUE(embeddedData(html).is_object());
}

TEST(HtmlReport, TuneReport) {
  Json doc = tuneDoc();
  doc["meta"]["function"] = kEvil;
  const std::string html = renderTuneHtml(doc);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* name : {"tune-duration", "tune-cost"})
    EXPECT_NE(html.find(std::string("<svg class=\"chart\" data-chart=\"") + name + "\""),
              std::string::npos);
  const Json data = embeddedData(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["source"], doc);
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(html.find("<b>bold</b>"), std::string::npos);
  expectNoNetworkReferences(html);
  // the recommendation: a callout and a highlighted table row
  EXPECT_NE(html.find("Recommended: 256 MB"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"recommended\"><td>256 ★</td><td>3 / 3</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>128 (current)</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>0 / 3</td><td class=\"err\">3</td><td class=\"na\">-</td>"),
            std::string::npos);
  EXPECT_EQ(count(html, "<tr class=\"recommended\">"), 1u);
}

}  // namespace
}  // namespace kindling::report
