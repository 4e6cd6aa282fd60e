// Lambda layer operations (2018-10-31 routes): PublishLayerVersion, GetLayerVersion,
// GetLayerVersionByArn (GET /layers?find=LayerVersion&Arn=..., routed as ListLayers),
// ListLayers, ListLayerVersions and DeleteLayerVersion, with botocore's request constraints and
// response shapes. Everything touching SQLite or zips runs on the blocking pool; publish and
// delete hold mgmt_mu_ so the code garbage collector never sees a zip between its put() and the
// row that references it.
//
// Content.Location: the package can be downloaded from the GetLayerVersion URL with the query
// `kindling-download=zip` (a kindling extension; AWS hands out a presigned S3 URL instead).
#include <algorithm>
#include <array>
#include <charconv>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/api_internal.h"
#include "api/api_service.h"
#include "api/function_json.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/strings.h"
#include "store/layer_store.h"

namespace kindling::api {

namespace bhttp = boost::beast::http;
using nlohmann::json;
using detail::send;
using detail::sendEmpty;
using detail::sendError;
using detail::sendJson;

namespace {

constexpr std::string_view kDownloadQuery = "kindling-download";
constexpr int kMaxListItems = 50;
constexpr size_t kMaxDescription = 256, kMaxLicenseInfo = 512, kMaxCompatibleRuntimes = 15,
                 kMaxCompatibleArchitectures = 2;
constexpr std::string_view kLayerNamePattern =
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";
constexpr std::string_view kLayerVersionArnPattern =
    "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+";
constexpr std::string_view kResourceNotFound = "The resource you requested does not exist.";

// Lambda's Runtime enum (botocore's, plus the identifiers added since): the values
// CompatibleRuntimes accepts. Deprecated runtimes stay valid for layers.
constexpr std::array<std::string_view, 52> kRuntimeEnum = {
    "nodejs",        "nodejs4.3",     "nodejs6.10",    "nodejs8.10",     "nodejs10.x",
    "nodejs12.x",    "nodejs14.x",    "nodejs16.x",    "nodejs18.x",     "nodejs20.x",
    "nodejs22.x",    "nodejs24.x",    "nodejs4.3-edge", "java8",         "java8.al2",
    "java11",        "java17",        "java21",        "java25",         "python2.7",
    "python3.6",     "python3.7",     "python3.8",     "python3.9",      "python3.10",
    "python3.11",    "python3.12",    "python3.13",    "python3.14",     "dotnetcore1.0",
    "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6",        "dotnet7",
    "dotnet8",       "dotnet10",      "go1.x",         "ruby2.5",        "ruby2.7",
    "ruby3.2",       "ruby3.3",       "ruby3.4",       "provided",       "provided.al2",
    "provided.al2023", "python3.15",  "nodejs26.x",    "java26",         "ruby3.5",
    "dotnet9",       "dotnet11"};
constexpr std::array<std::string_view, 2> kArchitectures = {"x86_64", "arm64"};

template <size_t N>
bool oneOf(const std::array<std::string_view, N>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

tl::unexpected<Error> validation(std::string message) {
  return makeError(ErrorCode::Validation, std::move(message));
}

tl::unexpected<Error> constraint(std::string_view value, std::string_view field,
                                 std::string_view what) {
  return validation(fmt::format(
      "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}", value,
      field, what));
}

// {LayerName} of the path: a name or an unversioned layer ARN.
Result<std::string> layerNameParam(const std::string& raw) {
  if (raw.size() > 140) {
    return constraint(raw, "layerName", "Member must have length less than or equal to 140");
  }
  if (startsWith(raw, "arn:")) {
    auto parts = store::parseLayerArn(raw);
    if (parts && !parts->version) return std::move(parts->name);
  } else if (store::isValidLayerName(raw)) {
    return raw;
  }
  return constraint(raw, "layerName",
                    fmt::format("Member must satisfy regular expression pattern: {}",
                                kLayerNamePattern));
}

// {VersionNumber} of the path.
Result<int64_t> versionParam(const std::string& raw) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (raw.empty() || ec != std::errc() || end != raw.data() + raw.size()) {
    return validation(fmt::format("1 validation error detected: Value '{}' at 'versionNumber' "
                                  "failed to satisfy constraint: Member must be a number",
                                  raw));
  }
  if (value < 1) {
    return constraint(raw, "versionNumber", "Member must have value greater than or equal to 1");
  }
  return value;
}

// Reads an optional string member; ValidationException when it is not a string or too long.
Result<std::string> optionalString(const json& body, const char* key, std::string_view field,
                                   size_t max) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return validation(fmt::format("{} must be a string", key));
  std::string value = it->get<std::string>();
  if (value.size() > max) {
    return constraint(value, field,
                      fmt::format("Member must have length less than or equal to {}", max));
  }
  return value;
}

// Reads an optional list of enum strings.
template <size_t N>
Result<std::vector<std::string>> optionalEnumList(const json& body, const char* key,
                                                  std::string_view field, size_t max,
                                                  const std::array<std::string_view, N>& values) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) return validation(fmt::format("{} must be a list of strings", key));
  for (const auto& item : *it) {
    if (!item.is_string()) return validation(fmt::format("{} must be a list of strings", key));
    out.push_back(item.get<std::string>());
  }
  const std::string shown = "[" + fmt::format("{}", fmt::join(out, ", ")) + "]";
  if (out.size() > max) {
    return constraint(shown, field,
                      fmt::format("Member must have length less than or equal to {}", max));
  }
  for (const auto& v : out) {
    if (!oneOf(values, v)) {
      return constraint(shown, field,
                        fmt::format("Member must satisfy constraint: [Member must satisfy enum "
                                    "value set: [{}]]",
                                    fmt::join(values, ", ")));
    }
  }
  return out;
}

// ListLayers/ListLayerVersions filters from the query string.
Result<store::LayerFilter> filterParams(const ApiService::Ctx& ctx) {
  store::LayerFilter filter{ctx.queryValue("CompatibleRuntime"),
                            ctx.queryValue("CompatibleArchitecture")};
  if (!filter.runtime.empty() && !oneOf(kRuntimeEnum, filter.runtime)) {
    return constraint(filter.runtime, "compatibleRuntime",
                      fmt::format("Member must satisfy enum value set: [{}]",
                                  fmt::join(kRuntimeEnum, ", ")));
  }
  if (!filter.architecture.empty() && !oneOf(kArchitectures, filter.architecture)) {
    return constraint(filter.architecture, "compatibleArchitecture",
                      "Member must satisfy enum value set: [x86_64, arm64]");
  }
  return filter;
}

Result<int> maxItemsParam(const ApiService::Ctx& ctx) {
  const std::string raw = ctx.queryValue("MaxItems");
  if (raw.empty()) return kMaxListItems;
  int value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (ec != std::errc() || end != raw.data() + raw.size() || value < 1 || value > kMaxListItems) {
    return constraint(raw, "maxItems",
                      "Member must have value less than or equal to 50 and greater than or "
                      "equal to 1");
  }
  return value;
}

std::string hostOf(const http::Request& req) {
  auto it = req.find(bhttp::field::host);
  return it == req.end() ? std::string("127.0.0.1") : std::string(it->value());
}

// LayerVersionsListItem (list_item) or GetLayerVersionResponse / PublishLayerVersionResponse.
json versionJson(const store::LayerVersion& v, std::string_view region, bool full,
                 const std::string& host) {
  json j;
  if (full) {
    j["Content"] = {{"Location", fmt::format("http://{}/2018-10-31/layers/{}/versions/{}?{}=zip",
                                             host, v.name, v.version, kDownloadQuery)},
                    {"CodeSha256", v.code_sha256},
                    {"CodeSize", v.code_size}};
    j["LayerArn"] = store::layerArn(region, v.name);
  }
  j["LayerVersionArn"] = store::layerVersionArn(region, v.name, v.version);
  j["Version"] = v.version;
  j["Description"] = v.description;
  j["CreatedDate"] = isoTimestampAws(v.created_ms);
  j["CompatibleRuntimes"] = v.compatible_runtimes;
  j["CompatibleArchitectures"] = v.compatible_architectures;
  if (!v.license_info.empty()) j["LicenseInfo"] = v.license_info;
  return j;
}

}  // namespace

void ApiService::layerOperation(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  if (deps_.layers == nullptr) {
    return sendError(ctx, 500, "ServiceException", "layers are not available in this daemon");
  }
  store::LayerStore& layers = *deps_.layers;
  const std::string region = regionOf(ctx->req);

  // GetLayerVersionByArn shares ListLayers' path: GET /2018-10-31/layers?find=LayerVersion&Arn=
  if (route.op == Operation::ListLayers && ctx->query.count("find")) {
    const std::string find = ctx->queryValue("find");
    if (find != "LayerVersion") {
      return sendError(ctx, 400, "ValidationException",
                       "Unsupported find value '" + find + "': expected LayerVersion");
    }
    if (!ctx->query.count("Arn")) {
      return sendError(ctx, 400, "ValidationException",
                       "1 validation error detected: Value null at 'arn' failed to satisfy "
                       "constraint: Member must not be null");
    }
    const std::string arn = ctx->queryValue("Arn");
    auto parts = store::parseLayerArn(arn);
    if (!parts || !parts->version) {
      return sendError(ctx, constraint(arn, "arn",
                                       fmt::format("Member must satisfy regular expression "
                                                   "pattern: {}",
                                                   kLayerVersionArnPattern))
                                .value());
    }
    return boost::asio::post(deps_.blocking, [ctx, &layers, parts = std::move(*parts)] {
      if (parts.account != store::kLayerAccountId) {
        return sendError(ctx, 404, "ResourceNotFoundException", std::string(kResourceNotFound));
      }
      auto v = layers.get(parts.name, *parts.version);
      if (!v) {
        if (v.error().code == ErrorCode::NotFound) {
          return sendError(ctx, 404, "ResourceNotFoundException", std::string(kResourceNotFound));
        }
        return sendError(ctx, v.error());
      }
      sendJson(ctx, 200, versionJson(*v, parts.region, true, hostOf(ctx->req)));
    });
  }

  if (route.op == Operation::ListLayers) {
    auto filter = filterParams(*ctx);
    if (!filter) return sendError(ctx, filter.error());
    auto max_items = maxItemsParam(*ctx);
    if (!max_items) return sendError(ctx, max_items.error());
    return boost::asio::post(deps_.blocking, [ctx, &layers, region, filter = std::move(*filter),
                                              max_items = *max_items] {
      auto all = layers.listLatest(filter);
      if (!all) return sendError(ctx, all.error());
      // Sorted by name: the marker is the last name of the previous page.
      const std::string marker = ctx->queryValue("Marker");
      auto it = marker.empty() ? all->begin()
                               : std::upper_bound(all->begin(), all->end(), marker,
                                                  [](const std::string& m, const auto& v) {
                                                    return m < v.name;
                                                  });
      json items = json::array();
      for (; it != all->end() && static_cast<int>(items.size()) < max_items; ++it) {
        items.push_back({{"LayerName", it->name},
                         {"LayerArn", store::layerArn(region, it->name)},
                         {"LatestMatchingVersion", versionJson(*it, region, false, {})}});
      }
      json body{{"Layers", std::move(items)}};
      if (it != all->end()) body["NextMarker"] = std::prev(it)->name;
      sendJson(ctx, 200, body);
    });
  }

  auto name = layerNameParam(route.layer);
  if (!name) return sendError(ctx, name.error());

  switch (route.op) {
    case Operation::ListLayerVersions: {
      auto filter = filterParams(*ctx);
      if (!filter) return sendError(ctx, filter.error());
      auto max_items = maxItemsParam(*ctx);
      if (!max_items) return sendError(ctx, max_items.error());
      int64_t after = 0;  // versions below the marker (newest first)
      if (const std::string marker = ctx->queryValue("Marker"); !marker.empty()) {
        auto parsed = versionParam(marker);
        if (!parsed) return sendError(ctx, 400, "ValidationException", "Invalid Marker");
        after = *parsed;
      }
      return boost::asio::post(deps_.blocking, [ctx, &layers, region, name = std::move(*name),
                                                filter = std::move(*filter),
                                                max_items = *max_items, after] {
        auto versions = layers.listVersions(name, filter);
        if (!versions) return sendError(ctx, versions.error());
        json items = json::array();
        auto it = versions->begin();
        while (it != versions->end() && after != 0 && it->version >= after) ++it;
        for (; it != versions->end() && static_cast<int>(items.size()) < max_items; ++it) {
          items.push_back(versionJson(*it, region, false, {}));
        }
        json body{{"LayerVersions", std::move(items)}};
        if (it != versions->end()) body["NextMarker"] = std::to_string(std::prev(it)->version);
        sendJson(ctx, 200, body);
      });
    }
    case Operation::GetLayerVersion: {
      auto version = versionParam(route.layer_version);
      if (!version) return sendError(ctx, version.error());
      const bool download = ctx->queryValue(std::string(kDownloadQuery)) == "zip";
      return boost::asio::post(deps_.blocking, [this, ctx, &layers, region, download,
                                                name = std::move(*name), version = *version] {
        auto v = layers.get(name, version);
        if (!v) {
          if (v.error().code == ErrorCode::NotFound) {
            return sendError(ctx, 404, "ResourceNotFoundException",
                             std::string(kResourceNotFound));
          }
          return sendError(ctx, v.error());
        }
        if (!download) return sendJson(ctx, 200, versionJson(*v, region, true, hostOf(ctx->req)));
        auto zip = deps_.code.readZip(v->code_sha256_hex);
        if (!zip) return sendError(ctx, zip.error());
        http::Response res{bhttp::status::ok, ctx->req.version()};
        res.set(bhttp::field::content_type, "application/zip");
        res.body() = std::move(*zip);
        send(ctx, std::move(res));
      });
    }
    case Operation::DeleteLayerVersion: {
      auto version = versionParam(route.layer_version);
      if (!version) return sendError(ctx, version.error());
      return boost::asio::post(deps_.blocking, [this, ctx, &layers, name = std::move(*name),
                                                version = *version] {
        std::lock_guard lock(mgmt_mu_);
        auto removed = layers.remove(name, version);
        if (!removed) return sendError(ctx, removed.error());
        if (*removed) {
          spdlog::info("DeleteLayerVersion {}:{}", name, version);
          // Functions that use it keep it: codeReferences counts their layer refs.
          collectCode((*removed)->code_sha256_hex);
        }
        sendEmpty(ctx, 204);
      });
    }
    case Operation::PublishLayerVersion:
      return boost::asio::post(deps_.blocking, [this, ctx, &layers, region,
                                                name = std::move(*name)] {
        store::PublishLayerRequest request;
        request.name = name;
        std::string zip;
        {
          json body = json::parse(ctx->req.body(), nullptr, /*allow_exceptions=*/false);
          ctx->req.body().clear();
          ctx->req.body().shrink_to_fit();
          if (body.is_discarded() || !body.is_object()) {
            return sendError(ctx, 400, "ValidationException", "Request body is not a JSON object");
          }
          auto description = optionalString(body, "Description", "description", kMaxDescription);
          if (!description) return sendError(ctx, description.error());
          auto license = optionalString(body, "LicenseInfo", "licenseInfo", kMaxLicenseInfo);
          if (!license) return sendError(ctx, license.error());
          auto runtimes = optionalEnumList(body, "CompatibleRuntimes", "compatibleRuntimes",
                                           kMaxCompatibleRuntimes, kRuntimeEnum);
          if (!runtimes) return sendError(ctx, runtimes.error());
          auto architectures =
              optionalEnumList(body, "CompatibleArchitectures", "compatibleArchitectures",
                               kMaxCompatibleArchitectures, kArchitectures);
          if (!architectures) return sendError(ctx, architectures.error());
          auto content = body.find("Content");
          if (content == body.end() || !content->is_object()) {
            return sendError(ctx, 400, "ValidationException",
                             "1 validation error detected: Value null at 'content' failed to "
                             "satisfy constraint: Member must not be null");
          }
          auto decoded = decodeZipFile(*content, "Content.");
          if (!decoded) return sendError(ctx, decoded.error());
          zip = std::move(*decoded);
          request.description = std::move(*description);
          request.license_info = std::move(*license);
          request.compatible_runtimes = std::move(*runtimes);
          request.compatible_architectures = std::move(*architectures);
        }  // the JSON (with its base64 copy of the zip) is freed here
        request.zip_bytes = zip;
        request.now_ms = SystemClock().epochMillis();
        std::lock_guard lock(mgmt_mu_);
        auto v = layers.publish(request);
        if (!v) return sendError(ctx, v.error());
        spdlog::info("PublishLayerVersion {}:{} code={} size={}", v->name, v->version,
                     v->code_sha256, v->code_size);
        sendJson(ctx, 201, versionJson(*v, region, true, hostOf(ctx->req)));
      });
    default:
      break;
  }
  sendError(ctx, 404, "UnknownOperationException", "not a layer operation");
}

}  // namespace kindling::api
