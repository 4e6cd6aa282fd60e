// Self-contained HTML reports of `kindling bench` (results.json -> report.html) and
// `kindling tune` (tune.json -> tune.html); formats in docs of issue 6 (schemas kindling.bench/1
// and kindling.tune/1).
//
// One HTML5 file each, readable offline and years later: inline <style> and <script>, no URL of
// any kind (no CDN, fonts or images). Every table is rendered here in C++, so the numbers read
// without JavaScript; the charts are drawn by a small inline script (chart_script.h) from chart
// descriptions (chart_model.h) embedded with the source document as
// <script type="application/json" id="kindling-data">. Every document string is escaped: HTML
// text and attributes here, the embedded JSON so that it cannot close its <script> element.
// The bench report reads top-down: what was measured, charts, per-cell table, AWS comparison,
// failures, and it ends with the decision table.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kindling::report {

// results.json document -> report.html. Pure; never throws (missing or mistyped fields render as
// "-" or are skipped; an unexpected failure renders a short error page). Thread-safe.
std::string renderBenchHtml(const nlohmann::json& results);

// tune.json document -> tune.html. Same guarantees as renderBenchHtml. Thread-safe.
std::string renderTuneHtml(const nlohmann::json& tune);

}  // namespace kindling::report
