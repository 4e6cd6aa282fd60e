#include "lab/results.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "lab/json_read.h"
#include "lab/text_table.h"

namespace kindling::lab {

namespace {

using nlohmann::json;

constexpr const char* kBenchSchema = "kindling.bench/1";

size_t okSamples(const CellStats& s) { return s.cold_client_ms.count + s.warm_client_ms.count; }

// The value a cell offers for a decision criterion, or nullopt when it has no data for it.
using CriterionValue = std::optional<double> (*)(const CellStats&);

struct Criterion {
  const char* name;
  const char* unit;
  CriterionValue value;
};

constexpr Criterion kCriteria[] = {
    {kFastestColdStart, "ms",
     [](const CellStats& s) -> std::optional<double> {
       if (s.cold_init_ms.count == 0) return std::nullopt;
       return s.cold_init_ms.p50;
     }},
    {kFastestWarm, "ms",
     [](const CellStats& s) -> std::optional<double> {
       if (s.warm_duration_ms.count == 0) return std::nullopt;
       return s.warm_duration_ms.p50;
     }},
    {kCheapest, "USD",
     [](const CellStats& s) -> std::optional<double> {
       if (s.warm_billed_ms.count == 0) return std::nullopt;
       return s.cost_per_million_usd;
     }},
    {kLowestMemory, "MB",
     [](const CellStats& s) -> std::optional<double> {
       if (okSamples(s) == 0) return std::nullopt;
       return s.max_memory_mb;
     }},
};

// decide() over precomputed stats (stats[i] belongs to cells[i]).
std::vector<Decision> decideFrom(const std::vector<Cell>& cells, const std::vector<CellStats>& stats) {
  std::vector<const std::string*> workloads;
  for (const Cell& c : cells) {
    const bool seen = std::any_of(workloads.begin(), workloads.end(),
                                  [&](const std::string* w) { return *w == c.workload; });
    if (!seen) workloads.push_back(&c.workload);
  }
  std::vector<Decision> out;
  out.reserve(workloads.size() * std::size(kCriteria));
  for (const std::string* workload : workloads) {
    for (const Criterion& criterion : kCriteria) {
      const Cell* best = nullptr;
      double best_value = 0;
      for (size_t i = 0; i < cells.size(); ++i) {
        const Cell& c = cells[i];
        if (c.workload != *workload) continue;
        const std::optional<double> v = criterion.value(stats[i]);
        if (!v) continue;
        const bool better =
            !best || *v < best_value ||
            (*v == best_value && (c.memory_mb < best->memory_mb ||
                                  (c.memory_mb == best->memory_mb && c.runtime < best->runtime)));
        if (better) {
          best = &c;
          best_value = *v;
        }
      }
      if (!best) continue;
      out.push_back(Decision{*workload, criterion.name, best->runtime, best->memory_mb, best_value,
                             criterion.unit});
    }
  }
  return out;
}

json toJson(const Decision& d) {
  return json{{"workload", d.workload}, {"criterion", d.criterion}, {"runtime", d.runtime},
              {"memory_mb", d.memory_mb}, {"value", d.value},       {"unit", d.unit}};
}

json toJson(const BenchMeta& m) {
  return json{{"generated_at", m.generated_at},
              {"kindling_version", m.kindling_version},
              {"host", m.host},
              {"kernel", m.kernel},
              {"cpus", m.cpus},
              {"cpu_model", m.cpu_model},
              {"endpoint", m.endpoint},
              {"cold_per_cell", m.cold_per_cell},
              {"warm_per_cell", m.warm_per_cell},
              {"runtimes", m.runtimes},
              {"memory_mb", m.memory_mb},
              {"workloads", m.workloads}};
}

Result<BenchMeta> metaFromJson(const json& value) {
  JsonReader in(value, "meta");
  BenchMeta m;
  m.generated_at = in.string("generated_at");
  m.kindling_version = in.string("kindling_version");
  m.host = in.string("host");
  m.kernel = in.string("kernel");
  m.cpus = in.integer("cpus");
  m.cpu_model = in.string("cpu_model");
  m.endpoint = in.string("endpoint");
  m.cold_per_cell = in.integer("cold_per_cell");
  m.warm_per_cell = in.integer("warm_per_cell");
  m.runtimes = in.stringArray("runtimes");
  m.memory_mb = in.integerArray("memory_mb");
  m.workloads = in.stringArray("workloads");
  if (!in.ok()) return tl::unexpected(in.error());
  return m;
}

Result<Cell> cellFromJson(const json& value, std::string path) {
  JsonReader in(value, std::move(path));
  Cell c;
  c.runtime = in.string("runtime");
  c.runtime_id = in.string("runtime_id");
  c.workload = in.string("workload");
  c.memory_mb = in.integer("memory_mb");
  const json* samples = in.array("samples");
  c.notes = in.optionalStringArray("notes");
  if (!in.ok()) return tl::unexpected(in.error());
  if (c.memory_mb <= 0) {
    return tl::unexpected(documentError(in.pathOf("memory_mb") + ": must be positive"));
  }
  c.samples.reserve(samples->size());
  for (size_t i = 0; i < samples->size(); ++i) {
    auto sample = sampleFromJson((*samples)[i], in.pathOf("samples", i));
    if (!sample) return tl::unexpected(std::move(sample.error()));
    c.samples.push_back(std::move(*sample));
  }
  return c;
}

// Appends `field` with RFC 4180 quoting: quoted when it holds a comma, quote, CR or LF; quotes
// doubled.
void appendCsvField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char ch : field) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

// Shortest text that reads back as the same double ("27", "25.1", "1.5e-07").
void appendNumber(std::string& out, double value) { fmt::format_to(std::back_inserter(out), "{}", value); }

std::string summaryTriple(const Summary& s) {
  if (s.count == 0) return "-";
  return formatMs(s.p50) + "/" + formatMs(s.p90) + "/" + formatMs(s.p99) + " (" + formatMs(s.min) +
         "-" + formatMs(s.max) + ")";
}

std::string decisionValue(const Decision& d) {
  if (d.unit == "USD") return formatFixed(d.value, 4) + " USD";
  if (d.unit == "MB") return formatAmount(d.value) + " MB";
  return formatMs(d.value) + " " + d.unit;
}

// lambda-perf figures for the cells' runtimes, at the pricing's architecture, zip packaging (the
// way kindling deploys code).
void renderCompare(std::string& out, const BenchResults& results) {
  const std::string_view arch = architectureName(results.pricing.architecture);
  TextTable table({{"runtime", TextTable::Align::Left},
                   {"memory MB", TextTable::Align::Right},
                   {"cold init ms p50 (min-max)", TextTable::Align::Right},
                   {"init mean", TextTable::Align::Right},
                   {"warm duration mean", TextTable::Align::Right},
                   {"max mem MB", TextTable::Align::Right},
                   {"n", TextTable::Align::Right}});
  // Rows in the order of meta.runtimes, then by memory.
  const std::vector<std::string>& runtimes = results.meta.runtimes;
  std::vector<std::pair<size_t, const AwsFigure*>> rows;
  for (const AwsFigure& f : results.compare->figures) {
    if (f.runtime.empty() || f.architecture != arch || f.package != "zip") continue;
    const auto it = std::find(runtimes.begin(), runtimes.end(), f.runtime);
    if (it == runtimes.end()) continue;
    rows.emplace_back(static_cast<size_t>(it - runtimes.begin()), &f);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second->memory_mb < b.second->memory_mb);
  });
  for (const auto& [order, figure] : rows) {
    const AwsFigure& f = *figure;
    const Summary init = summarize(f.init_ms);
    table.addRow({f.runtime + (f.runtime == f.display ? "" : " [" + f.display + "]"),
                  std::to_string(f.memory_mb),
                  init.count ? formatMs(init.p50) + " (" + formatMs(init.min) + "-" + formatMs(init.max) + ")"
                             : "-",
                  formatMs(f.init_ms_mean), formatMs(f.duration_ms_mean), formatAmount(f.max_memory_mb),
                  std::to_string(init.count)});
  }
  out += fmt::format("\nAWS reference (lambda-perf, generated {}, {}, zip; from {}):\n",
                     results.compare->generated_at, arch, results.compare->source);
  if (table.empty()) {
    out += "  no figures for these runtimes\n";
  } else {
    out += table.render("  ");
  }
}

}  // namespace

CellStats cellStats(const Cell& cell, const Pricing& pricing) {
  CellStats out;
  std::vector<double> cold_init, cold_client, warm_duration, warm_client, warm_billed;
  double cost_sum = 0;
  for (const Sample& s : cell.samples) {
    if (s.error) {
      ++out.errors;
      continue;
    }
    out.max_memory_mb = std::max(out.max_memory_mb, s.max_memory_mb);
    if (s.cold) {
      if (s.init_ms) cold_init.push_back(*s.init_ms);
      cold_client.push_back(s.client_ms);
    } else {
      warm_duration.push_back(s.duration_ms);
      warm_client.push_back(s.client_ms);
      warm_billed.push_back(s.billed_ms);
      cost_sum += invocationCostUsd(pricing, s.billed_ms, cell.memory_mb);
    }
  }
  if (!warm_billed.empty()) {
    out.cost_per_million_usd = cost_sum / static_cast<double>(warm_billed.size()) * 1e6;
  }
  out.cold_init_ms = summarize(std::move(cold_init));
  out.cold_client_ms = summarize(std::move(cold_client));
  out.warm_duration_ms = summarize(std::move(warm_duration));
  out.warm_client_ms = summarize(std::move(warm_client));
  out.warm_billed_ms = summarize(std::move(warm_billed));
  return out;
}

json toJson(const CellStats& s) {
  return json{{"cold_init_ms", toJson(s.cold_init_ms)},
              {"cold_client_ms", toJson(s.cold_client_ms)},
              {"warm_duration_ms", toJson(s.warm_duration_ms)},
              {"warm_client_ms", toJson(s.warm_client_ms)},
              {"warm_billed_ms", toJson(s.warm_billed_ms)},
              {"max_memory_mb", s.max_memory_mb},
              {"cost_per_million_usd", s.cost_per_million_usd},
              {"errors", s.errors}};
}

std::vector<Decision> decide(const std::vector<Cell>& cells, const Pricing& pricing) {
  std::vector<CellStats> stats;
  stats.reserve(cells.size());
  for (const Cell& c : cells) stats.push_back(cellStats(c, pricing));
  return decideFrom(cells, stats);
}

json toJson(const Sample& s) {
  return json{{"kind", s.cold ? "cold" : "warm"},
              {"init_ms", s.init_ms ? json(*s.init_ms) : json(nullptr)},
              {"duration_ms", s.duration_ms},
              {"billed_ms", s.billed_ms},
              {"max_memory_mb", s.max_memory_mb},
              {"client_ms", s.client_ms},
              {"error", s.error ? json(*s.error) : json(nullptr)}};
}

Result<Sample> sampleFromJson(const json& value, const std::string& path) {
  JsonReader in(value, path);
  Sample s;
  const std::string kind = in.string("kind");
  s.init_ms = in.optionalNumber("init_ms");
  s.duration_ms = in.number("duration_ms");
  s.billed_ms = in.number("billed_ms");
  s.max_memory_mb = in.number("max_memory_mb");
  s.client_ms = in.number("client_ms");
  s.error = in.optionalString("error");
  if (!in.ok()) return tl::unexpected(in.error());
  if (kind == "cold") {
    s.cold = true;
  } else if (kind != "warm") {
    return tl::unexpected(
        documentError(in.pathOf("kind") + ": expected \"cold\" or \"warm\", got \"" + kind + "\""));
  }
  return s;
}

json toJson(const BenchResults& r) {
  std::vector<CellStats> stats;
  stats.reserve(r.cells.size());
  json cells = json::array();
  for (const Cell& c : r.cells) {
    stats.push_back(cellStats(c, r.pricing));
    json samples = json::array();
    for (const Sample& s : c.samples) samples.push_back(toJson(s));
    cells.push_back(json{{"runtime", c.runtime},
                         {"runtime_id", c.runtime_id},
                         {"workload", c.workload},
                         {"memory_mb", c.memory_mb},
                         {"samples", std::move(samples)},
                         {"stats", toJson(stats.back())},
                         {"notes", c.notes}});
  }
  json decisions = json::array();
  for (const Decision& d : decideFrom(r.cells, stats)) decisions.push_back(toJson(d));
  return json{{"schema", kBenchSchema},
              {"meta", toJson(r.meta)},
              {"pricing", toJson(r.pricing)},
              {"cells", std::move(cells)},
              {"decisions", std::move(decisions)},
              {"compare", r.compare ? toJson(filterTo(*r.compare, r.meta.runtimes)) : json(nullptr)}};
}

Result<BenchResults> benchResultsFromJson(const json& document) {
  try {
    JsonReader in(document, "");
    const std::string schema = in.string("schema");
    const json* meta = in.object("meta");
    const json* pricing = in.object("pricing");
    const json* cells = in.array("cells");
    const json* compare = in.optionalMember("compare");
    if (!in.ok()) return tl::unexpected(in.error());
    if (schema != kBenchSchema) {
      return tl::unexpected(documentError("schema: expected \"" + std::string(kBenchSchema) +
                                          "\", got \"" + schema + "\""));
    }
    BenchResults r;
    auto parsed_meta = metaFromJson(*meta);
    if (!parsed_meta) return tl::unexpected(std::move(parsed_meta.error()));
    r.meta = std::move(*parsed_meta);
    auto parsed_pricing = pricingFromJson(*pricing, "pricing");
    if (!parsed_pricing) return tl::unexpected(std::move(parsed_pricing.error()));
    r.pricing = *parsed_pricing;
    r.cells.reserve(cells->size());
    for (size_t i = 0; i < cells->size(); ++i) {
      auto cell = cellFromJson((*cells)[i], in.pathOf("cells", i));
      if (!cell) return tl::unexpected(std::move(cell.error()));
      r.cells.push_back(std::move(*cell));
    }
    if (compare) {
      auto reference = awsReferenceFromJson(*compare, "compare");
      if (!reference) return tl::unexpected(std::move(reference.error()));
      r.compare = std::move(*reference);
    }
    return r;
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument, std::string("results.json: ") + e.what());
  }
}

std::string toCsv(const BenchResults& r) {
  std::string out =
      "runtime,runtime_id,workload,memory_mb,kind,index,init_ms,duration_ms,billed_ms,"
      "max_memory_mb,client_ms,error\n";
  size_t rows = 0;
  for (const Cell& c : r.cells) rows += c.samples.size();
  out.reserve(out.size() + rows * 96);
  for (const Cell& c : r.cells) {
    // The cell's leading columns are the same on every row: quote them once.
    std::string prefix;
    appendCsvField(prefix, c.runtime);
    prefix.push_back(',');
    appendCsvField(prefix, c.runtime_id);
    prefix.push_back(',');
    appendCsvField(prefix, c.workload);
    fmt::format_to(std::back_inserter(prefix), ",{},", c.memory_mb);
    for (size_t i = 0; i < c.samples.size(); ++i) {
      const Sample& s = c.samples[i];
      out.append(prefix);
      out.append(s.cold ? "cold," : "warm,");
      fmt::format_to(std::back_inserter(out), "{},", i);
      if (s.init_ms) appendNumber(out, *s.init_ms);
      out.push_back(',');
      appendNumber(out, s.duration_ms);
      out.push_back(',');
      appendNumber(out, s.billed_ms);
      out.push_back(',');
      appendNumber(out, s.max_memory_mb);
      out.push_back(',');
      appendNumber(out, s.client_ms);
      out.push_back(',');
      if (s.error) appendCsvField(out, *s.error);
      out.push_back('\n');
    }
  }
  return out;
}

std::string renderTable(const BenchResults& r) {
  const BenchMeta& m = r.meta;
  std::string out = fmt::format(
      "kindling bench {}: {} ({} CPUs{}{}), kernel {}, {} cold + {} warm per cell, {} prices\n\n",
      m.generated_at, m.host.empty() ? "host" : m.host, m.cpus, m.cpu_model.empty() ? "" : ", ",
      m.cpu_model, m.kernel.empty() ? "?" : m.kernel, m.cold_per_cell, m.warm_per_cell,
      architectureName(r.pricing.architecture));

  std::vector<CellStats> stats;
  stats.reserve(r.cells.size());
  TextTable cells({{"runtime", TextTable::Align::Left},
                   {"mem MB", TextTable::Align::Right},
                   {"workload", TextTable::Align::Left},
                   {"cold init ms p50/p90/p99 (min-max)", TextTable::Align::Right},
                   {"warm ms p50/p99", TextTable::Align::Right},
                   {"client p50", TextTable::Align::Right},
                   {"max MB", TextTable::Align::Right},
                   {"$/1M", TextTable::Align::Right},
                   {"errors", TextTable::Align::Right}});
  for (const Cell& c : r.cells) {
    stats.push_back(cellStats(c, r.pricing));
    const CellStats& s = stats.back();
    cells.addRow({c.runtime, std::to_string(c.memory_mb), c.workload, summaryTriple(s.cold_init_ms),
                  s.warm_duration_ms.count
                      ? formatMs(s.warm_duration_ms.p50) + "/" + formatMs(s.warm_duration_ms.p99)
                      : "-",
                  s.warm_client_ms.count ? formatMs(s.warm_client_ms.p50) : "-",
                  okSamples(s) ? formatAmount(s.max_memory_mb) : "-",
                  s.warm_billed_ms.count ? formatFixed(s.cost_per_million_usd, 4) : "-",
                  std::to_string(s.errors)});
  }
  if (cells.empty()) {
    out += "no cells\n";
  } else {
    out += cells.render();
  }

  const std::vector<Decision> decisions = decideFrom(r.cells, stats);
  out += "\nDecisions (per workload):\n";
  if (decisions.empty()) {
    out += "  no data to decide on\n";
  } else {
    TextTable table({{"workload", TextTable::Align::Left},
                     {"criterion", TextTable::Align::Left},
                     {"runtime", TextTable::Align::Left},
                     {"mem MB", TextTable::Align::Right},
                     {"value", TextTable::Align::Right}});
    for (const Decision& d : decisions) {
      table.addRow({d.workload, d.criterion, d.runtime, std::to_string(d.memory_mb), decisionValue(d)});
    }
    out += table.render("  ");
  }

  bool notes_header = false;
  for (const Cell& c : r.cells) {
    for (const std::string& note : c.notes) {
      if (!notes_header) {
        out += "\nNotes:\n";
        notes_header = true;
      }
      out += fmt::format("  {} {} MB {}: {}\n", c.runtime, c.memory_mb, c.workload, note);
    }
  }
  if (r.compare) renderCompare(out, r);
  return out;
}

std::string isoUtcSeconds(int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

HostInfo readHostInfo() {
  HostInfo info;
  info.generated_at = isoUtcSeconds(static_cast<int64_t>(std::time(nullptr)));
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.host = host;
  struct utsname uts {};
  if (uname(&uts) == 0) info.kernel = uts.release;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  info.cpus = cpus > 0 ? static_cast<int>(cpus) : 0;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t start = line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) info.cpu_model = line.substr(start);
    break;
  }
  return info;
}

void fillHostInfo(BenchMeta& meta) {
  HostInfo info = readHostInfo();
  meta.generated_at = std::move(info.generated_at);
  meta.host = std::move(info.host);
  meta.kernel = std::move(info.kernel);
  meta.cpu_model = std::move(info.cpu_model);
  meta.cpus = info.cpus;
}

}  // namespace kindling::lab
