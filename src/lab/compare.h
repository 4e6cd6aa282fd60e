// AWS's published cold-start figures, to put next to kindling's own: lambda-perf
// (https://github.com/maxday/lambda-perf) measures every Lambda runtime daily (10 fresh cold starts
// per runtime x memory x architecture x packaging) and publishes them as last.json. This file
// parses that document and maps its runtime names onto kindling's runtime labels.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace kindling::lab {

struct AwsFigure {
  std::string id;            // lambda-perf "r", e.g. "lambda-perf-python312-zip-128-x86_64"
  std::string display;       // "d", e.g. "python3.12", "go (prov.al2023)"
  std::string runtime;       // the local runtime label it maps to, "" when none
  std::string architecture;  // "a": "x86_64" | "arm64"
  std::string package;       // "p": "zip" | "image"
  int memory_mb = 0;         // "m"
  std::vector<double> init_ms;  // "i": Init Duration of each cold start
  double init_ms_mean = 0;      // "acd"
  double duration_ms_mean = 0;  // "ad"
  double max_memory_mb = 0;     // "mu"
};

struct AwsReference {
  std::string source;        // file path or URL it was read from
  std::string generated_at;  // lambda-perf metadata.generatedAt
  std::vector<AwsFigure> figures;  // in document order
};

// Parses lambda-perf's last.json:
// {"metadata":{"generatedAt"},"runtimeData":[{"r","p","d","i":[..],"m","a","mu","ad","acd"}]}.
// Malformed input is an InvalidArgument error naming the entry and field; never throws.
// Pure; thread-safe.
Result<AwsReference> parseLambdaPerf(std::string_view json_text, std::string source);

// Maps a lambda-perf display name to kindling's runtime label, or "" when kindling has no
// counterpart: managed runtimes of the families kindling runs (pythonX.Y, nodejsNN.x, javaNN,
// java8.al2, rubyX.Y) map to themselves; "go|rust|c++ 11 (prov.al2023)" map to go/rust/cpp; the
// prov.al2 builds of those, dotnet, graalvm, quarkus, llrt, bun, swift, shell, ... map to "".
// Pure; thread-safe.
std::string localRuntimeFor(std::string_view display);

// The figures whose runtime label is one of `runtimes`, in their original order. Pure; thread-safe.
AwsReference filterTo(const AwsReference& reference, const std::vector<std::string>& runtimes);

// The results.json "compare" object (runtime "" is written as null). Pure; thread-safe.
nlohmann::json toJson(const AwsReference& reference);
// Inverse of toJson; `path` names the object in errors. Pure; thread-safe.
Result<AwsReference> awsReferenceFromJson(const nlohmann::json& value,
                                          std::string path = "compare");

}  // namespace kindling::lab
