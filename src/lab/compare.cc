#include "lab/compare.h"

#include <algorithm>
#include <exception>

#include "lab/json_read.h"

namespace kindling::lab {

namespace {

using nlohmann::json;

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<prefix><digits><suffix>", e.g. "nodejs" "22" ".x".
bool isVersioned(std::string_view s, std::string_view prefix, std::string_view suffix = {}) {
  if (s.size() <= prefix.size() + suffix.size()) return false;
  if (s.substr(0, prefix.size()) != prefix) return false;
  if (s.substr(s.size() - suffix.size()) != suffix) return false;
  return allDigits(s.substr(prefix.size(), s.size() - prefix.size() - suffix.size()));
}

// "<prefix><digits>.<digits>", e.g. "python3." "12" or "ruby" "3.3".
bool isDottedVersion(std::string_view s, std::string_view prefix) {
  if (s.size() <= prefix.size() || s.substr(0, prefix.size()) != prefix) return false;
  const std::string_view version = s.substr(prefix.size());
  const size_t dot = version.find('.');
  if (dot == std::string_view::npos) return false;
  return allDigits(version.substr(0, dot)) && allDigits(version.substr(dot + 1));
}

Result<AwsFigure> figureFromLambdaPerf(const json& entry, std::string path) {
  JsonReader in(entry, std::move(path));
  AwsFigure f;
  f.id = in.string("r");
  f.package = in.string("p");
  f.display = in.string("d");
  f.init_ms = in.numberArray("i");
  f.memory_mb = in.integer("m");
  f.architecture = in.string("a");
  f.max_memory_mb = in.number("mu");
  f.duration_ms_mean = in.number("ad");
  f.init_ms_mean = in.number("acd");
  if (!in.ok()) return tl::unexpected(in.error());
  if (f.memory_mb <= 0) {
    return tl::unexpected(documentError(in.pathOf("m") + ": memory must be positive"));
  }
  f.runtime = localRuntimeFor(f.display);
  return f;
}

Result<AwsFigure> figureFromJson(const json& value, std::string path) {
  JsonReader in(value, std::move(path));
  AwsFigure f;
  f.id = in.string("id");
  f.display = in.string("display");
  f.runtime = in.optionalString("runtime").value_or("");
  f.memory_mb = in.integer("memory_mb");
  f.architecture = in.string("architecture");
  f.package = in.string("package");
  f.init_ms = in.numberArray("init_ms");
  f.init_ms_mean = in.number("init_ms_mean");
  f.duration_ms_mean = in.number("duration_ms_mean");
  f.max_memory_mb = in.number("max_memory_mb");
  if (!in.ok()) return tl::unexpected(in.error());
  return f;
}

}  // namespace

std::string localRuntimeFor(std::string_view display) {
  // Managed runtimes: lambda-perf displays the Lambda runtime id itself.
  if (isDottedVersion(display, "python") || isDottedVersion(display, "ruby") ||
      isVersioned(display, "nodejs", ".x") || isVersioned(display, "java") ||
      display == "java8.al2") {
    return std::string(display);
  }
  // OS-only runtimes: kindling labels them by language. Only the al2023 builds map, so each label
  // gets one AWS figure per memory/architecture/package; al2 is the older OS.
  if (display == "go (prov.al2023)") return "go";
  if (display == "rust (prov.al2023)") return "rust";
  if (display == "c++ 11 (prov.al2023)") return "cpp";
  return "";
}

Result<AwsReference> parseLambdaPerf(std::string_view json_text, std::string source) {
  const std::string context = "lambda-perf " + (source.empty() ? std::string("input") : source);
  try {
    const json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      return makeError(ErrorCode::InvalidArgument, context + ": not valid JSON");
    }
    JsonReader root(doc, "");
    AwsReference ref;
    ref.source = std::move(source);
    const json* metadata = root.object("metadata");
    const json* data = root.array("runtimeData");
    if (!root.ok()) return tl::unexpected(Error(root.error()).wrap(context));
    JsonReader meta(*metadata, "metadata");
    ref.generated_at = meta.string("generatedAt");
    if (!meta.ok()) return tl::unexpected(Error(meta.error()).wrap(context));
    ref.figures.reserve(data->size());
    for (size_t i = 0; i < data->size(); ++i) {
      auto figure = figureFromLambdaPerf((*data)[i], root.pathOf("runtimeData", i));
      if (!figure) return tl::unexpected(std::move(figure.error()).wrap(context));
      ref.figures.push_back(std::move(*figure));
    }
    return ref;
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument, context + ": " + e.what());
  }
}

AwsReference filterTo(const AwsReference& reference, const std::vector<std::string>& runtimes) {
  AwsReference out;
  out.source = reference.source;
  out.generated_at = reference.generated_at;
  for (const AwsFigure& f : reference.figures) {
    if (f.runtime.empty()) continue;
    if (std::find(runtimes.begin(), runtimes.end(), f.runtime) != runtimes.end()) {
      out.figures.push_back(f);
    }
  }
  return out;
}

json toJson(const AwsReference& reference) {
  json figures = json::array();
  for (const AwsFigure& f : reference.figures) {
    figures.push_back(json{{"id", f.id},
                           {"display", f.display},
                           {"runtime", f.runtime.empty() ? json(nullptr) : json(f.runtime)},
                           {"memory_mb", f.memory_mb},
                           {"architecture", f.architecture},
                           {"package", f.package},
                           {"init_ms", f.init_ms},
                           {"init_ms_mean", f.init_ms_mean},
                           {"duration_ms_mean", f.duration_ms_mean},
                           {"max_memory_mb", f.max_memory_mb}});
  }
  return json{{"source", reference.source},
              {"generated_at", reference.generated_at},
              {"figures", std::move(figures)}};
}

Result<AwsReference> awsReferenceFromJson(const json& value, std::string path) {
  try {
    JsonReader in(value, std::move(path));
    AwsReference ref;
    ref.source = in.string("source");
    ref.generated_at = in.string("generated_at");
    const json* figures = in.array("figures");
    if (!in.ok()) return tl::unexpected(in.error());
    ref.figures.reserve(figures->size());
    for (size_t i = 0; i < figures->size(); ++i) {
      auto figure = figureFromJson((*figures)[i], in.pathOf("figures", i));
      if (!figure) return tl::unexpected(std::move(figure.error()));
      ref.figures.push_back(std::move(*figure));
    }
    return ref;
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument, std::string("compare: ") + e.what());
  }
}

}  // namespace kindling::lab
