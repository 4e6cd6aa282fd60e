#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "report/chart_model.h"
#include "report/chart_script.h"
#include "report/html_text.h"
#include "report/json_view.h"

namespace kindling::report {
namespace {

// A max above this multiple of the median is flagged in the tables (outliers at a glance).
constexpr double kSpreadFactor = 3.0;
constexpr size_t kPayloadPreview = 300;

// Small writer over one output string; every text goes through appendEscaped.
class Html {
 public:
  explicit Html(size_t reserve) { out_.reserve(reserve); }

  Html& raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  Html& text(std::string_view s) {
    appendEscaped(out_, s);
    return *this;
  }
  // <tag class="cls" title="title">text</tag> (class/title omitted when empty).
  Html& cell(std::string_view tag, std::string_view cls, std::string_view content,
             std::string_view title = {}) {
    out_ += '<';
    out_ += tag;
    if (!cls.empty()) raw(" class=\"").text(cls).raw("\"");
    if (!title.empty()) raw(" title=\"").text(title).raw("\"");
    out_ += '>';
    text(content);
    raw("</").raw(tag).raw(">");
    return *this;
  }
  Html& td(std::string_view content, std::string_view cls = {}) {
    return cell("td", content == "-" ? (cls.empty() ? "na" : cls) : cls, content);
  }
  Html& th(std::string_view content, std::string_view cls = {}) { return cell("th", cls, content); }
  // A <dt>/<dd> pair of the header's description list.
  Html& item(std::string_view term, std::string_view value) {
    return cell("dt", {}, term).cell("dd", {}, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string strOr(const Json& j, std::string_view key, std::string_view fallback = "-") {
  auto s = stringAt(j, key);
  return std::string(s ? *s : fallback);
}

std::string numOr(const Json& j, std::string_view key, std::string (*format)(double)) {
  return formatOr(numberAt(j, key), format);
}

// Joins the strings/numbers of a JSON array ("python3.12, nodejs22.x").
std::string joinArray(const Json& arr, std::string_view sep = ", ") {
  std::string out;
  for (const Json& v : arr) {
    if (!out.empty()) out += sep;
    if (v.is_string()) out += v.get_ref<const std::string&>();
    else if (auto n = asNumber(&v)) out += formatPlain(*n);
    else out += "-";
  }
  return out.empty() ? std::string("-") : out;
}

std::string pricingText(const Json& pricing) {
  auto gbs = numberAt(pricing, "gb_second_usd");
  auto req = numberAt(pricing, "request_usd");
  return fmt::format("{}: ${} per GB-second, ${} per request", strOr(pricing, "architecture"),
                     gbs ? fmt::format("{:.10g}", *gbs) : "-",
                     req ? fmt::format("{:.10g}", *req) : "-");
}

// "2026-11-26T20:01:02Z" -> "2026-11-26 20:01:02 UTC"; other strings as they are.
std::string readableTime(std::string_view iso) {
  if (iso.size() >= 19 && iso[10] == 'T' && (iso.back() == 'Z')) {
    return fmt::format("{} {} UTC", iso.substr(0, 10), iso.substr(11, 8));
  }
  return std::string(iso);
}

void openDocument(Html& h, std::string_view title, const Json& embedded) {
  h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
      .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
      .raw("<meta name=\"generator\" content=\"kindling\">\n<title>")
      .text(title)
      .raw("</title>\n<style>")
      .raw(reportStyle())
      .raw("</style>\n<script type=\"application/json\" id=\"kindling-data\">");
  std::string json;
  appendScriptJson(json, embedded);
  h.raw(json).raw("</script>\n<script>").raw(chartScript());
  h.raw("</script>\n</head>\n<body>\n<main>\n");
}

void closeDocument(Html& h) { h.raw("</main>\n</body>\n</html>\n"); }

void chartFigures(Html& h, const Json& charts) {
  h.raw("<section id=\"charts\">\n<h2>Charts</h2>\n<noscript><p class=\"callout\">The charts "
        "are drawn by JavaScript; every figure is also in the tables below.</p></noscript>\n");
  for (const Json& c : charts) {
    const std::string name = strOr(c, "name");
    const std::string title = strOr(c, "title", "");
    h.raw("<figure id=\"chart-").text(name).raw("\"><figcaption><b>").text(title)
        .raw("</b><br>").text(strOr(c, "caption", "")).raw("</figcaption>")
        .raw("<div class=\"chart-box\"><svg class=\"chart\" data-chart=\"").text(name)
        .raw("\" role=\"img\" aria-label=\"").text(title).raw("\"></svg></div></figure>\n");
  }
  h.raw("</section>\n");
}

// p50/p90/p99/min–max cells of one statistic (plus n first when `with_count`).
void statCells(Html& h, const Stat& s, bool with_count) {
  if (with_count) h.td(formatOr(s.count, formatPlain));
  if (!s.hasData()) {
    for (int i = 0; i < 4; ++i) h.td("-");
    return;
  }
  h.td(formatOr(s.p50, formatMs)).td(formatOr(s.p90, formatMs)).td(formatOr(s.p99, formatMs));
  const std::string range =
      (s.min || s.max) ? formatOr(s.min, formatMs) + " – " + formatOr(s.max, formatMs) : "-";
  if (s.p50 && s.max && *s.p50 > 0 && *s.max > kSpreadFactor * *s.p50) {
    h.cell("td", "spread", range,
           fmt::format("max is {:.1f}x the median: an outlier", *s.max / *s.p50));
  } else {
    h.td(range);
  }
}

std::string cellKey(std::string_view runtime, std::string_view workload, double memory) {
  return fmt::format("{}\x1f{}\x1f{}", runtime, workload, memory);
}

void benchHeader(Html& h, const Json& results) {
  const Json& meta = objectAt(results, "meta");
  const Json& cells = arrayAt(results, "cells");
  size_t invocations = 0, failed = 0;
  for (const Json& c : cells) {
    invocations += arrayAt(c, "samples").size();
    if (auto e = numberAt(objectAt(c, "stats"), "errors")) failed += static_cast<size_t>(*e);
  }
  h.raw("<header>\n<h1>kindling bench</h1>\n<p class=\"lede\">")
      .text(fmt::format("Cold and warm starts of {} {} on {} at {} MB: {} cells, {} cold + {} "
                        "warm invocations each. Measured on {} ({} CPUs), {}.",
                        arrayAt(meta, "workloads").size() == 1 ? "workload" : "workloads",
                        joinArray(arrayAt(meta, "workloads")), joinArray(arrayAt(meta, "runtimes")),
                        joinArray(arrayAt(meta, "memory_mb"), " / "), cells.size(),
                        numOr(meta, "cold_per_cell", formatPlain),
                        numOr(meta, "warm_per_cell", formatPlain), strOr(meta, "host"),
                        numOr(meta, "cpus", formatPlain),
                        readableTime(strOr(meta, "generated_at"))))
      .raw("</p>\n<dl class=\"meta\">");
  h.item("Generated", readableTime(strOr(meta, "generated_at")))
      .item("kindling", strOr(meta, "kindling_version"))
      .item("Host", strOr(meta, "host"))
      .item("Kernel", strOr(meta, "kernel"))
      .item("CPU", fmt::format("{} × {}", numOr(meta, "cpus", formatPlain),
                               strOr(meta, "cpu_model")))
      .item("Endpoint", strOr(meta, "endpoint"))
      .item("Per cell", fmt::format("{} cold, {} warm", numOr(meta, "cold_per_cell", formatPlain),
                                    numOr(meta, "warm_per_cell", formatPlain)))
      .item("Invocations", fmt::format("{} ({} failed)", invocations, failed))
      .item("Runtimes", joinArray(arrayAt(meta, "runtimes")))
      .item("Memory (MB)", joinArray(arrayAt(meta, "memory_mb")))
      .item("Workloads", joinArray(arrayAt(meta, "workloads")))
      .item("Pricing", pricingText(objectAt(results, "pricing")));
  const Json& compare = objectAt(results, "compare");
  if (!compare.empty()) {
    h.item("Compared with", fmt::format("AWS Lambda, lambda-perf of {} ({})",
                                        readableTime(strOr(compare, "generated_at")),
                                        strOr(compare, "source")));
  }
  h.raw("</dl>\n");
  if (failed > 0) {
    h.raw("<p class=\"callout bad\">")
        .text(fmt::format("{} of {} invocations failed (see Failed invocations); the statistics "
                          "use the successful ones only.",
                          failed, invocations))
        .raw("</p>\n");
  }
  h.raw("</header>\n");
}

void cellTable(Html& h, const Json& cells) {
  h.raw("<section id=\"cells\">\n<h2>Per cell</h2>\n<p class=\"muted\">Percentiles are "
        "nearest-rank over the successful invocations. A red min–max marks a max above ")
      .text(formatPlain(kSpreadFactor))
      .raw("× the median. Cost: mean of the warm invocations, per 1M invocations.</p>\n"
           "<div class=\"table-box\"><table class=\"cells\">\n<thead><tr>"
           "<th class=\"l\" rowspan=\"2\">Runtime</th><th class=\"l\" rowspan=\"2\">Workload</th>"
           "<th rowspan=\"2\">Memory<br>(MB)</th>"
           "<th colspan=\"5\">Cold: Init Duration (ms)</th>"
           "<th colspan=\"5\">Warm: Duration (ms)</th>"
           "<th colspan=\"4\">Warm: client latency (ms)</th>"
           "<th rowspan=\"2\">Max memory<br>used (MB)</th><th rowspan=\"2\">$ per 1M<br>"
           "invocations</th><th rowspan=\"2\">Errors</th><th class=\"l\" rowspan=\"2\">Notes</th>"
           "</tr>\n<tr>");
  for (int block = 0; block < 3; ++block) {
    if (block < 2) h.th("n");
    h.th("p50").th("p90").th("p99").th("min – max");
  }
  h.raw("</tr></thead>\n<tbody>\n");
  if (cells.empty()) h.raw("<tr><td class=\"l\" colspan=\"21\">no cells</td></tr>\n");
  std::optional<std::string> last_runtime;
  size_t index = 0;
  for (const Json& c : cells) {
    const Json& stats = objectAt(c, "stats");
    const std::string runtime = strOr(c, "runtime");
    h.raw(fmt::format("<tr id=\"cell-{}\"", index++));
    if (last_runtime && *last_runtime != runtime) h.raw(" class=\"group-start\"");
    last_runtime = runtime;
    h.raw(">");
    const std::string runtime_id = strOr(c, "runtime_id", "");
    const std::string runtime_title =
        runtime_id.empty() || runtime_id == runtime ? std::string() : "Runtime " + runtime_id;
    h.cell("td", "l", runtime, runtime_title);
    h.td(strOr(c, "workload"), "l").td(numOr(c, "memory_mb", formatMb));
    statCells(h, statAt(stats, "cold_init_ms"), true);
    statCells(h, statAt(stats, "warm_duration_ms"), true);
    statCells(h, statAt(stats, "warm_client_ms"), false);
    h.td(numOr(stats, "max_memory_mb", formatMb));
    auto warm = statAt(stats, "warm_duration_ms");
    h.td(warm.hasData() ? numOr(stats, "cost_per_million_usd", formatUsd) : "-");
    auto errors = numberAt(stats, "errors");
    h.td(formatOr(errors, formatPlain), errors && *errors > 0 ? "err" : "");
    std::string notes;
    for (const Json& n : arrayAt(c, "notes")) {
      if (!n.is_string()) continue;
      if (!notes.empty()) notes += "; ";
      notes += n.get_ref<const std::string&>();
    }
    h.cell("td", "notes", notes);
    h.raw("</tr>\n");
  }
  h.raw("</tbody></table></div>\n</section>\n");
}

// Prefers the "hello" cell (what lambda-perf measures) among a runtime's cells at one memory.
void compareTable(Html& h, const Json& results) {
  const Json& compare = objectAt(results, "compare");
  if (compare.empty()) return;
  std::string date = strOr(compare, "generated_at");
  if (date.size() >= 10) date.resize(10);
  const std::string heading = fmt::format("AWS (lambda-perf, {}) vs local", date);
  h.raw("<section id=\"compare\">\n<h2>").text(heading).raw("</h2>\n<p class=\"muted\">")
      .text(fmt::format("AWS Lambda's figures from lambda-perf ({}), a trivial function per "
                        "runtime; local figures from the \"hello\" workload when measured. "
                        "Ratio = local p50 Init Duration / AWS mean Init Duration.",
                        strOr(compare, "source")))
      .raw("</p>\n<div class=\"table-box\"><table class=\"compare\">\n<thead><tr>"
           "<th class=\"l\">Runtime</th><th>Memory (MB)</th><th class=\"l\">Local workload</th>"
           "<th>Local Init p50 (ms)</th><th>AWS Init mean (ms)</th><th>Local / AWS</th>"
           "<th>Local warm Duration p50 (ms)</th><th>AWS Duration mean (ms)</th>"
           "<th>Local max memory (MB)</th><th>AWS max memory (MB)</th><th class=\"l\">AWS "
           "package</th></tr></thead>\n<tbody>\n");
  const Json& cells = arrayAt(results, "cells");
  size_t rows = 0;
  for (const Json& f : arrayAt(compare, "figures")) {
    auto runtime = stringAt(f, "runtime");
    if (!runtime) continue;
    auto mb = numberAt(f, "memory_mb");
    auto aws_init = numberAt(f, "init_ms_mean");
    std::vector<const Json*> matches;
    const Json* hello = nullptr;
    for (const Json& c : cells) {
      if (stringAt(c, "runtime") != runtime || !mb || numberAt(c, "memory_mb") != mb) continue;
      if (stringAt(c, "workload") == std::optional<std::string_view>("hello")) hello = &c;
      matches.push_back(&c);
    }
    if (hello != nullptr) matches = {hello};
    if (matches.empty()) matches.push_back(nullptr);
    for (const Json* c : matches) {
      ++rows;
      static const Json kNone = Json::object();
      const Json& stats = objectAt(c ? *c : kNone, "stats");
      const Stat cold = statAt(stats, "cold_init_ms");
      const Stat warm = statAt(stats, "warm_duration_ms");
      std::optional<double> local_init = cold.hasData() ? cold.p50 : std::nullopt;
      std::string ratio = "-";
      if (local_init && aws_init && *aws_init > 0)
        ratio = fmt::format("{:.2f}×", *local_init / *aws_init);
      h.raw("<tr>").td(*runtime, "l").td(formatOr(mb, formatMb))
          .td(c ? strOr(*c, "workload") : "-", "l")
          .td(formatOr(local_init, formatMs)).td(formatOr(aws_init, formatMs)).td(ratio)
          .td(warm.hasData() ? formatOr(warm.p50, formatMs) : "-")
          .td(numOr(f, "duration_ms_mean", formatMs))
          .td(c ? numOr(stats, "max_memory_mb", formatMb) : "-")
          .td(numOr(f, "max_memory_mb", formatMb))
          .td(fmt::format("{}, {}", strOr(f, "package"), strOr(f, "architecture")), "l")
          .raw("</tr>\n");
    }
  }
  if (rows == 0)
    h.raw("<tr><td class=\"l\" colspan=\"11\">no AWS figure maps to a measured runtime"
          "</td></tr>\n");
  h.raw("</tbody></table></div>\n</section>\n");
}

// Failed invocations grouped by cell and error text.
void failureTable(Html& h, const Json& cells) {
  struct Failure {
    const Json* cell;
    std::string error;
    size_t count = 0;
    std::string samples;
  };
  std::vector<Failure> failures;
  for (const Json& c : cells) {
    size_t index = 0;
    std::map<std::string, size_t> by_error;  // error text -> index in failures
    for (const Json& s : arrayAt(c, "samples")) {
      const size_t i = index++;
      if (sampleOk(s)) continue;
      const Json& e = *member(s, "error");
      std::string error = e.is_string() ? e.get<std::string>()
                                        : e.dump(-1, ' ', false, Json::error_handler_t::replace);
      auto [it, inserted] = by_error.try_emplace(error, failures.size());
      if (inserted) failures.push_back({&c, std::move(error), 0, {}});
      Failure& f = failures[it->second];
      if (++f.count <= 12) {
        if (!f.samples.empty()) f.samples += ", ";
        f.samples += fmt::format("#{} {}", i, strOr(s, "kind", "?"));
        if (auto client = numberAt(s, "client_ms")) f.samples += " (" + formatMs(*client) + " ms)";
      } else if (f.count == 13) {
        f.samples += ", …";
      }
    }
  }
  if (failures.empty()) return;
  h.raw("<section id=\"failures\">\n<h2>Failed invocations</h2>\n<div class=\"table-box\">"
        "<table class=\"failures\">\n<thead><tr><th class=\"l\">Runtime</th><th class=\"l\">"
        "Workload</th><th>Memory (MB)</th><th class=\"l\">Error</th><th>Count</th><th class=\"l\">"
        "Samples (index, kind, client latency)</th></tr></thead>\n<tbody>\n");
  for (const Failure& f : failures) {
    h.raw("<tr>").td(strOr(*f.cell, "runtime"), "l").td(strOr(*f.cell, "workload"), "l")
        .td(numOr(*f.cell, "memory_mb", formatMb)).td(f.error, "l err")
        .td(std::to_string(f.count)).cell("td", "notes", f.samples).raw("</tr>\n");
  }
  h.raw("</tbody></table></div>\n</section>\n");
}

std::string decisionValue(const Json& d) {
  auto v = numberAt(d, "value");
  if (!v) return "-";
  const std::string unit = strOr(d, "unit", "");
  if (unit == "ms") return formatMs(*v) + " ms";
  if (unit == "USD") return "$" + formatUsd(*v) + " per 1M invocations";
  if (unit == "MB") return formatMb(*v) + " MB";
  return unit.empty() ? formatPlain(*v) : formatPlain(*v) + " " + unit;
}

void decisionTable(Html& h, const Json& results) {
  const Json& cells = arrayAt(results, "cells");
  std::map<std::string, size_t> cell_rows;
  for (size_t i = 0; i < cells.size(); ++i) {
    auto mb = numberAt(cells[i], "memory_mb");
    cell_rows.try_emplace(cellKey(strOr(cells[i], "runtime"), strOr(cells[i], "workload"),
                                  mb ? *mb : -1),
                          i);
  }
  h.raw("<section id=\"decisions\">\n<h2>Decisions</h2>\n<p class=\"muted\">Per workload, the "
        "best cell for each criterion (medians; cost per 1M warm invocations; ties go to the "
        "smaller memory, then the runtime name).</p>\n<table class=\"decisions\">\n<thead><tr>"
        "<th class=\"l\">Workload</th><th class=\"l\">Criterion</th><th class=\"l\">Runtime</th>"
        "<th>Memory (MB)</th><th>Value</th></tr></thead>\n<tbody>\n");
  const Json& decisions = arrayAt(results, "decisions");
  if (decisions.empty())
    h.raw("<tr><td class=\"l\" colspan=\"5\">no decision: no cell has data</td></tr>\n");
  std::optional<std::string> last_workload;
  for (const Json& d : decisions) {
    const std::string workload = strOr(d, "workload");
    const std::string runtime = strOr(d, "runtime");
    auto mb = numberAt(d, "memory_mb");
    h.raw("<tr");
    if (last_workload && *last_workload != workload) h.raw(" class=\"group-start\"");
    h.raw(">");
    h.td(last_workload == workload ? "" : workload, "l").td(strOr(d, "criterion"), "l");
    auto row = cell_rows.find(cellKey(runtime, workload, mb ? *mb : -1));
    if (row != cell_rows.end()) {
      h.raw(fmt::format("<td class=\"l\"><a href=\"#cell-{}\">", row->second)).text(runtime)
          .raw("</a></td>");
    } else {
      h.td(runtime, "l");
    }
    h.td(formatOr(mb, formatMb)).td(decisionValue(d), "value").raw("</tr>\n");
    last_workload = workload;
  }
  h.raw("</tbody></table>\n</section>\n");
}

std::string errorPage(std::string_view title, std::string_view what) {
  Html h(1024);
  h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
      .text(title).raw("</title>\n</head>\n<body>\n<h1>").text(title)
      .raw("</h1>\n<p>The report could not be rendered: ").text(what)
      .raw("</p>\n</body>\n</html>\n");
  return h.take();
}

std::string renderBench(const Json& results) {
  Json embedded = {{"kind", "kindling.bench/1"}, {"charts", benchCharts(results)},
                   {"source", results}};
  Html h(64 * 1024 + results.size() * 2048);
  const Json& meta = objectAt(results, "meta");
  openDocument(h, fmt::format("kindling bench: {} ({})", joinArray(arrayAt(meta, "runtimes")),
                              readableTime(strOr(meta, "generated_at"))),
               embedded);
  benchHeader(h, results);
  chartFigures(h, embedded["charts"]);
  const Json& cells = arrayAt(results, "cells");
  cellTable(h, cells);
  compareTable(h, results);
  failureTable(h, cells);
  decisionTable(h, results);  // last, by design: the answer the reader came for
  closeDocument(h);
  return h.take();
}

// A small dollar amount in plain decimals ("0.0000002267"), no exponent.
std::string formatPlainUsd(double usd) {
  std::string s = fmt::format("{:.10f}", usd);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string percentChange(const std::optional<double>& now, const std::optional<double>& base) {
  if (!now || !base || *base == 0) return "-";
  const double pct = (*now / *base - 1) * 100;
  return fmt::format("{:+.0f}%", pct);
}

std::string renderTune(const Json& tune) {
  Json embedded = {{"kind", "kindling.tune/1"}, {"charts", tuneCharts(tune)}, {"source", tune}};
  Html h(48 * 1024);
  const Json& meta = objectAt(tune, "meta");
  const Json& points = arrayAt(tune, "points");
  const Json& rec = objectAt(tune, "recommendation");
  auto rec_mb = numberAt(rec, "memory_mb");
  auto original_mb = numberAt(meta, "original_memory_mb");
  const Json* original = nullptr;
  for (const Json& p : points)
    if (original_mb && numberAt(p, "memory_mb") == original_mb) original = &p;
  const std::string function = strOr(meta, "function");
  const std::string strategy = strOr(tune, "strategy");
  openDocument(h, fmt::format("kindling tune: {} ({})", function,
                              readableTime(strOr(meta, "generated_at"))),
               embedded);
  h.raw("<header>\n<h1>kindling tune: ").text(function).raw("</h1>\n<p class=\"lede\">")
      .text(fmt::format("{} memory sizes × {} invocations each, strategy \"{}\"{}. Measured on "
                        "{} ({} CPUs), {}.",
                        points.size(), numOr(meta, "invocations", formatPlain), strategy,
                        strategy == "balanced"
                            ? fmt::format(" (weight {})", numOr(tune, "weight", formatPlain))
                            : std::string(),
                        strOr(meta, "host"), numOr(meta, "cpus", formatPlain),
                        readableTime(strOr(meta, "generated_at"))))
      .raw("</p>\n<dl class=\"meta\">");
  std::string payload = strOr(meta, "payload");
  if (payload.size() > kPayloadPreview) {
    payload.resize(kPayloadPreview);
    payload += " …";
  }
  auto discard = numberAt(meta, "discard_top_bottom");
  h.item("Function", function)
      .item("Generated", readableTime(strOr(meta, "generated_at")))
      .item("Payload", payload)
      .item("Invocations", fmt::format("{} per memory size, trimmed mean discarding {} at each end",
                                       numOr(meta, "invocations", formatPlain),
                                       discard ? fmt::format("{:.0f}%", *discard * 100) : "-"))
      .item("Original memory", formatOr(original_mb, formatMb) + " MB")
      .item("Strategy", strategy == "balanced"
                            ? fmt::format("balanced, weight {} (0 = speed, 1 = cost)",
                                          numOr(tune, "weight", formatPlain))
                            : strategy)
      .item("Host", fmt::format("{} ({} CPUs)", strOr(meta, "host"),
                                numOr(meta, "cpus", formatPlain)))
      .item("Endpoint", strOr(meta, "endpoint"))
      .item("kindling", strOr(meta, "kindling_version"))
      .item("Pricing", pricingText(objectAt(tune, "pricing")));
  h.raw("</dl>\n");
  const Json* applied = member(tune, "applied");
  const bool was_applied = applied != nullptr && applied->is_boolean() && applied->get<bool>();
  if (rec_mb) {
    auto rec_dur = numberAt(rec, "average_duration_ms");
    auto rec_cost = numberAt(rec, "average_cost_usd");
    std::string text = fmt::format(
        "Recommended: {} MB: average Duration {} ms, average cost ${} per 1M invocations.",
        formatMb(*rec_mb), formatOr(rec_dur, formatMs),
        rec_cost ? formatUsd(*rec_cost * 1e6) : std::string("-"));
    if (original != nullptr && original_mb && *original_mb != *rec_mb) {
      text += fmt::format(" Against the current {} MB: Duration {}, cost {}.",
                          formatMb(*original_mb),
                          percentChange(rec_dur, numberAt(*original, "average_duration_ms")),
                          percentChange(rec_cost, numberAt(*original, "average_cost_usd")));
    } else if (original_mb && *original_mb == *rec_mb) {
      text += " That is the current memory size.";
    }
    text += was_applied ? " Applied to the function." : " Not applied.";
    h.raw("<p class=\"callout\">").text(text).raw("</p>\n");
  } else {
    h.raw("<p class=\"callout bad\">No recommendation: no memory size had a successful "
          "invocation.</p>\n");
  }
  h.raw("</header>\n");
  chartFigures(h, embedded["charts"]);
  h.raw("<section id=\"points\">\n<h2>Memory sizes</h2>\n<div class=\"table-box\">"
        "<table class=\"points\">\n<thead><tr><th>Memory (MB)</th><th>Ok / invocations</th>"
        "<th>Errors</th><th>Average Duration (ms)</th><th>Average billed (ms)</th>"
        "<th>$ per 1M invocations</th><th>$ per invocation</th><th>Cold Init (ms)</th>"
        "<th>Duration vs original</th><th>Cost vs original</th></tr></thead>\n<tbody>\n");
  if (points.empty()) h.raw("<tr><td class=\"l\" colspan=\"10\">no memory sizes</td></tr>\n");
  for (const Json& p : points) {
    auto mb = numberAt(p, "memory_mb");
    size_t ok = 0, total = 0;
    std::optional<double> cold_init;
    for (const Json& s : arrayAt(p, "samples")) {
      ++total;
      if (!sampleOk(s)) continue;
      ++ok;
      if (stringAt(s, "kind") == std::optional<std::string_view>("cold") && !cold_init)
        cold_init = numberAt(s, "init_ms");
    }
    auto cost = numberAt(p, "average_cost_usd");
    const bool recommended = rec_mb && mb && *rec_mb == *mb;
    const bool current = original == &p;
    h.raw(recommended ? "<tr class=\"recommended\">" : "<tr>")
        .td(formatOr(mb, formatMb) + (current ? " (current)" : "") + (recommended ? " ★" : ""))
        .td(fmt::format("{} / {}", ok, total));
    auto errors = numberAt(p, "errors");
    h.td(formatOr(errors, formatPlain), errors && *errors > 0 ? "err" : "")
        .td(ok ? numOr(p, "average_duration_ms", formatMs) : "-")
        .td(ok ? numOr(p, "average_billed_ms", formatMs) : "-")
        .td(ok && cost ? formatUsd(*cost * 1e6) : "-")
        .td(ok && cost ? formatPlainUsd(*cost) : "-")
        .td(formatOr(cold_init, formatMs));
    if (original != nullptr && ok) {
      h.td(percentChange(numberAt(p, "average_duration_ms"),
                         numberAt(*original, "average_duration_ms")))
          .td(percentChange(cost, numberAt(*original, "average_cost_usd")));
    } else {
      h.td("-").td("-");
    }
    h.raw("</tr>\n");
  }
  h.raw("</tbody></table></div>\n</section>\n");
  closeDocument(h);
  return h.take();
}

}  // namespace

std::string renderBenchHtml(const nlohmann::json& results) {
  try {
    return renderBench(results);
  } catch (const std::exception& e) {
    try {
      return errorPage("kindling bench", e.what());
    } catch (...) {
      return {};
    }
  } catch (...) {
    return {};
  }
}

std::string renderTuneHtml(const nlohmann::json& tune) {
  try {
    return renderTune(tune);
  } catch (const std::exception& e) {
    try {
      return errorPage("kindling tune", e.what());
    } catch (...) {
      return {};
    }
  } catch (...) {
    return {};
  }
}

}  // namespace kindling::report
