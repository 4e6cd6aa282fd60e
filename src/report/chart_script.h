// The inline stylesheet and chart script of the HTML reports. The script is a small SVG plotter
// for the chart descriptions of chart_model.h: it reads <script id="kindling-data">, finds every
// <svg class="chart" data-chart=NAME> and draws axes, legend, decorations and one class="mark"
// element per point. It builds the DOM with createElementNS/textContent only (never innerHTML),
// so no data value is ever parsed as markup, and it references no URL of any kind.
#pragma once

#include <string_view>

namespace kindling::report {

// The <style> content shared by report.html and tune.html. Thread-safe.
std::string_view reportStyle();
// The <script> content that draws the charts. Thread-safe.
std::string_view chartScript();

}  // namespace kindling::report
