#include "cli/layer_commands.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <optional>
#include <ostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/wire.h"
#include "common/strings.h"
#include "store/zip.h"

namespace kindling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kLayersPath = "/2018-10-31/layers";
constexpr std::string_view kFilePrefix = "fileb://";

bool isSuccess(const HttpResponse& res) { return res.result_int() / 100 == 2; }

int reportApiError(const HttpResponse& res, std::ostream& err) {
  err << renderApiError(parseApiError(res)) << "\n";
  return kExitFailure;
}

int usage(std::ostream& err, std::string_view message) {
  err << "error: " << message << "\n";
  return kExitFailure;
}

// --zip-file: "fileb://x.zip", "x.zip" or a directory (zipped on the fly).
Result<std::string> loadLayerZip(std::string path) {
  if (startsWith(path, kFilePrefix)) path.erase(0, kFilePrefix.size());
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto zip = store::zipDirectory(path);
    if (!zip) return tl::unexpected(std::move(zip.error()).wrap("zip \"" + path + "\""));
    return zip;
  }
  auto bytes = readWholeFile(path);
  if (!bytes) return tl::unexpected(std::move(bytes.error()).wrap("--zip-file"));
  const std::string& b = *bytes;
  if (b.size() < 4 || b[0] != 'P' || b[1] != 'K' ||
      !((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
    return makeError(ErrorCode::InvalidZip,
                     "--zip-file \"" + path + "\" is neither a directory nor a zip file");
  }
  return bytes;
}

// PublishLayerVersionRequest; the base64 of the zip is spliced in (no JSON copy of it).
std::string publishBody(const LayerOptions& opts, std::string_view zip) {
  json small = json::object();
  if (!opts.description.empty()) small["Description"] = opts.description;
  if (!opts.license_info.empty()) small["LicenseInfo"] = opts.license_info;
  if (!opts.compatible_runtimes.empty()) small["CompatibleRuntimes"] = opts.compatible_runtimes;
  if (!opts.compatible_architectures.empty()) {
    small["CompatibleArchitectures"] = opts.compatible_architectures;
  }
  std::string head = small.dump(-1, ' ', false, json::error_handler_t::replace);
  head.pop_back();  // '}'
  const std::string b64 = base64Encode(zip);
  std::string body;
  body.reserve(head.size() + b64.size() + 32);
  body += head;
  if (head.size() > 1) body += ',';
  body += R"("Content":{"ZipFile":")";
  body += b64;
  body += "\"}}";
  return body;
}

std::string query(const std::vector<std::pair<std::string_view, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += key;
    out += '=';
    out += urlEncode(value);
  }
  return out;
}

std::string joined(const json& list) {
  if (!list.is_array() || list.empty()) return "-";
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += ',';
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

template <size_t N>
std::string table(const std::array<std::string_view, N>& headers,
                  const std::vector<std::array<std::string, N>>& rows) {
  std::array<size_t, N> width{};
  for (size_t c = 0; c < N; ++c) width[c] = headers[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < N; ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](auto cell) {
    for (size_t c = 0; c < N; ++c) {
      const std::string_view v = cell(c);
      out += v;
      if (c + 1 < N) out.append(width[c] - v.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out.push_back('\n');
  };
  line([&](size_t c) { return headers[c]; });
  for (const auto& row : rows) line([&](size_t c) { return std::string_view(row[c]); });
  return out;
}

// GETs every page of a list operation; `items_key` names the array, NextMarker continues.
Result<std::vector<json>> listAll(HttpClient& client, const std::string& path,
                                  std::vector<std::pair<std::string_view, std::string>> params,
                                  const char* items_key,
                                  std::optional<HttpResponse>& failed) {
  std::vector<json> items;
  std::string marker;
  params.emplace_back("Marker", std::string());
  do {
    params.back().second = marker;
    auto res = client.request(HttpVerb::get, path + query(params));
    if (!res) return tl::unexpected(std::move(res.error()));
    if (!isSuccess(*res)) {
      failed = std::move(*res);
      return items;
    }
    json page = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
    if (!page.is_object() || !page.contains(items_key) || !page[items_key].is_array()) {
      return makeError(ErrorCode::InvalidArgument,
                       std::string("response has no ") + items_key + " array");
    }
    for (auto& item : page[items_key]) items.push_back(std::move(item));
    std::string next = text(page, "NextMarker");
    if (next == marker) break;  // a server looping on us
    marker = std::move(next);
  } while (!marker.empty());
  return items;
}

int runPublish(HttpClient& client, const LayerOptions& opts, Console console) {
  if (opts.name.empty()) return usage(console.err, "--layer-name is required");
  if (opts.zip_file.empty()) return usage(console.err, "--zip-file is required");
  auto zip = loadLayerZip(opts.zip_file);
  if (!zip) return usage(console.err, zip.error().message());
  static const HttpClient::Headers kHeaders = {{"Content-Type", "application/json"}};
  auto res = client.request(HttpVerb::post,
                            std::string(kLayersPath) + "/" + urlEncode(opts.name) + "/versions",
                            publishBody(opts, *zip), kHeaders);
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  json body = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  console.out << (body.is_discarded() ? res->body() : body.dump(4)) << "\n";
  return kExitOk;
}

int runList(HttpClient& client, const LayerOptions& opts, Console console) {
  std::optional<HttpResponse> failed;
  auto layers = listAll(client, std::string(kLayersPath),
                        {{"CompatibleRuntime", opts.compatible_runtime},
                         {"CompatibleArchitecture", opts.compatible_architecture}},
                        "Layers", failed);
  if (!layers) return reportTransportError(client, layers.error(), console.err);
  if (failed) return reportApiError(*failed, console.err);
  std::vector<std::array<std::string, 5>> rows;
  for (const json& layer : *layers) {
    const json latest = layer.value("LatestMatchingVersion", json::object());
    rows.push_back({text(layer, "LayerName"), text(latest, "Version"),
                    joined(latest.value("CompatibleRuntimes", json::array())),
                    text(latest, "Description"), text(latest, "LayerVersionArn")});
  }
  console.out << table<5>({"NAME", "LATEST", "RUNTIMES", "DESCRIPTION", "LATEST ARN"}, rows);
  return kExitOk;
}

int runVersions(HttpClient& client, const LayerOptions& opts, Console console) {
  if (opts.name.empty()) return usage(console.err, "a layer name is required");
  std::optional<HttpResponse> failed;
  auto versions = listAll(client,
                          std::string(kLayersPath) + "/" + urlEncode(opts.name) + "/versions",
                          {{"CompatibleRuntime", opts.compatible_runtime},
                           {"CompatibleArchitecture", opts.compatible_architecture}},
                          "LayerVersions", failed);
  if (!versions) return reportTransportError(client, versions.error(), console.err);
  if (failed) return reportApiError(*failed, console.err);
  std::vector<std::array<std::string, 5>> rows;
  for (const json& v : *versions) {
    rows.push_back({text(v, "Version"), text(v, "CreatedDate"),
                    joined(v.value("CompatibleRuntimes", json::array())),
                    text(v, "Description"), text(v, "LayerVersionArn")});
  }
  console.out << table<5>({"VERSION", "CREATED", "RUNTIMES", "DESCRIPTION", "ARN"}, rows);
  return kExitOk;
}

int runDelete(HttpClient& client, const LayerOptions& opts, Console console) {
  if (opts.name.empty()) return usage(console.err, "a layer name is required");
  if (opts.version < 1) return usage(console.err, "a version number (1 or more) is required");
  auto res = client.request(HttpVerb::delete_, std::string(kLayersPath) + "/" +
                                                   urlEncode(opts.name) + "/versions/" +
                                                   std::to_string(opts.version));
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  console.out << "deleted layer " << opts.name << " version " << opts.version << "\n";
  return kExitOk;
}

}  // namespace

CLI::App* addLayerCommand(CLI::App& app, LayerOptions& opts) {
  CLI::App* layer = app.add_subcommand("layer", "publish, list and delete Lambda layers");
  layer->require_subcommand(1);

  CLI::App* publish = layer->add_subcommand("publish", "publish a new layer version");
  publish->add_option("--layer-name", opts.name, "layer name")->required();
  publish->add_option("--zip-file", opts.zip_file, "fileb://layer.zip, a .zip file or a directory")
      ->required();
  publish->add_option("--description", opts.description, "description");
  publish->add_option("--license-info", opts.license_info, "license");
  publish->add_option("--compatible-runtimes", opts.compatible_runtimes,
                      "runtimes, e.g. python3.11 nodejs20.x");
  publish->add_option("--compatible-architectures", opts.compatible_architectures,
                      "x86_64 and/or arm64");
  publish->callback([&opts] { opts.action = LayerAction::Publish; });

  CLI::App* list = layer->add_subcommand("list", "list layers (latest version of each)");
  list->add_option("--compatible-runtime", opts.compatible_runtime, "only layers for it");
  list->add_option("--compatible-architecture", opts.compatible_architecture,
                   "only layers for it");
  list->callback([&opts] { opts.action = LayerAction::List; });

  CLI::App* versions = layer->add_subcommand("versions", "list the versions of a layer");
  versions->add_option("name", opts.name, "layer name");
  versions->add_option("--layer-name", opts.name, "layer name");
  versions->add_option("--compatible-runtime", opts.compatible_runtime, "only versions for it");
  versions->add_option("--compatible-architecture", opts.compatible_architecture,
                       "only versions for it");
  versions->callback([&opts] { opts.action = LayerAction::Versions; });

  CLI::App* remove = layer->add_subcommand("delete", "delete a layer version");
  remove->add_option("name", opts.name, "layer name");
  remove->add_option("version", opts.version, "version number");
  remove->add_option("--layer-name", opts.name, "layer name");
  remove->add_option("--version-number", opts.version, "version number");
  remove->callback([&opts] { opts.action = LayerAction::Delete; });
  return layer;
}

int runLayer(HttpClient& client, const LayerOptions& opts, Console console) {
  switch (opts.action) {
    case LayerAction::Publish: return runPublish(client, opts, console);
    case LayerAction::List: return runList(client, opts, console);
    case LayerAction::Versions: return runVersions(client, opts, console);
    case LayerAction::Delete: return runDelete(client, opts, console);
    case LayerAction::None: break;
  }
  return usage(console.err, "layer: expected publish, list, versions or delete");
}

}  // namespace kindling::cli
