// Chart descriptions of the bench and tune reports, computed in C++ from the result documents
// and embedded in the HTML as JSON; the inline script (chart_script.h) only draws them. Keeping
// the "which cells make a data point" rules here means one place decides them, the unit tests can
// check them without a browser, and the script stays a generic SVG plotter.
//
// A chart: {"name", "title", "caption",
//   "x": {"type": "slots", "label", "slots": [{"g": group, "l": label}], "dodges": n}
//      | {"type": "number", "label", "unit", "log": bool, "ticks": [..]},
//   "y": {"label", "unit", "log": bool},
//   "series": [{"id", "label", "color", "shape": "circle"|"diamond", "dash": ""}],
//   "lines": bool,
//   "points": [{"s": series index, "x": slot index | number, "dx": data-x text, "y": value,
//               "d": dodge index, "j": jitter in [-0.5, 0.5], "r": [min, max],
//               "t": [tick values], "tip": hover text, "hl": true when highlighted}]}
// Every point becomes exactly one SVG element with class "mark".
#pragma once

#include <nlohmann/json.hpp>

namespace kindling::report {

// The six charts of a kindling.bench/1 document ("cold-start", "cold-samples", "warm-latency",
// "duration-memory", "cost-memory", "max-memory"), as a JSON array in that order. Never throws
// on odd input (fields that are missing or mistyped skip the point); may throw std::bad_alloc.
// Thread-safe (pure).
nlohmann::json benchCharts(const nlohmann::json& results);

// The two charts of a kindling.tune/1 document ("tune-duration", "tune-cost"); the recommended
// point carries "hl": true. Same guarantees as benchCharts.
nlohmann::json tuneCharts(const nlohmann::json& tune);

// True when positive values span more than 30x (min over the positive ones), the rule for a
// logarithmic axis. Thread-safe.
bool wantsLogScale(double min_positive, double max);

}  // namespace kindling::report
