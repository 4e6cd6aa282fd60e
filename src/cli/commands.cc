#include "cli/commands.h"

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/wire.h"
#include "store/zip.h"

namespace kindling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kFollowInterval{250};
constexpr std::chrono::milliseconds kStopCheckSlice{25};

bool isSuccess(const HttpResponse& res) { return res.result_int() / 100 == 2; }

int reportApiError(const HttpResponse& res, std::ostream& err) {
  err << renderApiError(parseApiError(res)) << "\n";
  return kExitFailure;
}

void printBody(std::string_view body, std::ostream& out) {
  out << body;
  if (body.empty() || body.back() != '\n') out << '\n';
}

}  // namespace

Result<std::string> loadCodeZip(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec) {
    return tl::unexpected(Error{ErrorCode::InvalidArgument, ec.value(),
                                "--code \"" + path + "\""});
  }
  if (fs::is_directory(st)) {
    auto zip = store::zipDirectory(path);
    if (!zip) return tl::unexpected(std::move(zip.error()).wrap("zip \"" + path + "\""));
    return zip;
  }
  auto read = readWholeFile(path);
  if (!read) return read;
  std::string bytes = std::move(*read);
  // Local file header "PK\3\4", or the end-of-central-directory record of an empty zip.
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K' ||
      !((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6))) {
    return makeError(ErrorCode::InvalidZip,
                     "--code \"" + path + "\" is neither a directory nor a zip file");
  }
  return bytes;
}

Result<HttpResponse> createFunction(HttpClient& client, const DeployOptions& spec,
                                    std::string_view zip) {
  static const HttpClient::Headers kHeaders = {{"Content-Type", "application/json"}};
  return client.request(HttpVerb::post, kFunctionsPath, buildCreateFunctionBody(spec, zip),
                        kHeaders);
}

Result<HttpResponse> deleteFunction(HttpClient& client, std::string_view name) {
  return client.request(HttpVerb::delete_, functionTarget(name));
}

Result<HttpResponse> invokeFunction(HttpClient& client, std::string_view name,
                                    std::string payload, std::string_view qualifier) {
  static const HttpClient::Headers kHeaders = {{kHeaderLogType, "Tail"}};
  return client.request(HttpVerb::post, invokeTarget(name, qualifier), std::move(payload),
                        kHeaders);
}

int reportTransportError(const HttpClient& client, const Error& error, std::ostream& err) {
  err << "error: cannot reach kindling at " << client.url() << ": " << error.message() << "\n";
  return kExitFailure;
}

namespace {

// A field of an API answer as text ("" when absent); numbers are printed as JSON.
std::string fieldText(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

enum class DeployMode { Created, Updated, Replaced };

// One request of the deploy sequence: its JSON object answer when it is a 2xx, else nullopt
// after printing the transport or API error (with the operation that failed).
std::optional<json> deployStep(HttpClient& client, HttpVerb verb, std::string_view target,
                               std::string body, std::string_view operation, Console console) {
  static const HttpClient::Headers kHeaders = {{"Content-Type", "application/json"}};
  auto res = client.request(verb, target, std::move(body), kHeaders);
  if (!res) {
    reportTransportError(client, res.error(), console.err);
    return std::nullopt;
  }
  if (!isSuccess(*res)) {
    console.err << renderApiError(parseApiError(*res)) << " (" << operation << ")\n";
    return std::nullopt;
  }
  if (res->result_int() == 204) return json::object();  // TagResource
  json j = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    console.err << "error: " << operation << " answered with something other than a JSON object\n";
    return std::nullopt;
  }
  return j;
}

// Updates an existing function in place: UpdateFunctionCode, UpdateFunctionConfiguration (with
// the code update's RevisionId, so a concurrent change in between fails instead of being mixed
// in), TagResource for --tag. Returns the configuration answer; errors are printed.
std::optional<json> updateInPlace(HttpClient& client, const DeployOptions& opts,
                                  std::string_view zip, Console console) {
  const std::string target = functionTarget(opts.name);
  auto code = deployStep(client, HttpVerb::put, target + "/code", buildUpdateCodeBody(zip),
                         "UpdateFunctionCode", console);
  if (!code) return std::nullopt;
  auto cfg = deployStep(client, HttpVerb::put, target + "/configuration",
                        buildUpdateConfigurationBody(opts, fieldText(*code, "RevisionId")),
                        "UpdateFunctionConfiguration", console);
  if (!cfg) {
    console.err << "note: the new code of " << opts.name
                << " is deployed, its configuration is unchanged\n";
    return std::nullopt;
  }
  if (!opts.tags.empty()) {
    const std::string arn = fieldText(*cfg, "FunctionArn");
    if (!deployStep(client, HttpVerb::post, "/2017-03-31/tags/" + urlEncode(arn),
                    buildTagBody(opts), "TagResource", console)) {
      return std::nullopt;
    }
  }
  return cfg;
}

void printDeployed(const json& cfg, DeployMode mode, const DeployOptions& opts, size_t zip_size,
                   std::ostream& out) {
  static constexpr std::array<std::string_view, 3> kVerb = {"created ", "updated ", "replaced "};
  auto or_else = [](std::string v, std::string fallback) { return v.empty() ? fallback : v; };
  out << kVerb[static_cast<size_t>(mode)] << or_else(fieldText(cfg, "FunctionName"), opts.name)
      << "\n  runtime   " << or_else(fieldText(cfg, "Runtime"), opts.runtime)
      << "\n  handler   " << or_else(fieldText(cfg, "Handler"), opts.handler)
      << "\n  memory    " << or_else(fieldText(cfg, "MemorySize"), std::to_string(opts.memory_mb))
      << " MB"
      << "\n  timeout   " << or_else(fieldText(cfg, "Timeout"), std::to_string(opts.timeout_s))
      << " s"
      << "\n  code      " << or_else(fieldText(cfg, "CodeSize"), std::to_string(zip_size))
      << " bytes, sha256 " << or_else(fieldText(cfg, "CodeSha256"), "?")
      << "\n  arn       " << or_else(fieldText(cfg, "FunctionArn"), "?") << "\n";
}

}  // namespace

int runDeploy(HttpClient& client, const DeployOptions& opts, Console console) {
  auto zip = loadCodeZip(opts.code);
  if (!zip) {
    console.err << "error: " << zip.error().message() << "\n";
    return kExitFailure;
  }
  DeployMode mode = DeployMode::Created;
  if (opts.replace) {
    auto del = deleteFunction(client, opts.name);
    if (!del) return reportTransportError(client, del.error(), console.err);
    if (!isSuccess(*del) && del->result_int() != 404) return reportApiError(*del, console.err);
    if (isSuccess(*del)) mode = DeployMode::Replaced;
  } else {
    auto get = client.request(HttpVerb::get, functionTarget(opts.name));
    if (!get) return reportTransportError(client, get.error(), console.err);
    if (isSuccess(*get)) {
      mode = DeployMode::Updated;
    } else if (get->result_int() != 404) {
      return reportApiError(*get, console.err);
    }
  }

  json cfg;
  std::string published;  // the version number, with --publish
  if (mode == DeployMode::Updated) {
    auto updated = updateInPlace(client, opts, *zip, console);
    if (!updated) return kExitFailure;
    cfg = std::move(*updated);
    if (opts.publish) {
      // Publishing in UpdateFunctionCode would freeze the configuration from before the
      // configuration update; PublishVersion guarded by RevisionId + CodeSha256 publishes
      // exactly what this deploy wrote (or fails if someone changed it in between).
      const json guard = {{"RevisionId", fieldText(cfg, "RevisionId")},
                          {"CodeSha256", fieldText(cfg, "CodeSha256")}};
      auto version = deployStep(client, HttpVerb::post, functionTarget(opts.name) + "/versions",
                                guard.dump(), "PublishVersion", console);
      if (!version) return kExitFailure;
      published = fieldText(*version, "Version");
    }
  } else {
    auto res = createFunction(client, opts, *zip);
    if (!res) return reportTransportError(client, res.error(), console.err);
    if (!isSuccess(*res)) {
      ApiError error = parseApiError(*res);
      if (error.type == "ResourceConflictException" || res->result_int() == 409) {
        console.err << "error: function '" << opts.name
                    << "' was created by someone else while deploying; run the deploy again to "
                       "update it in place\n";
        return kExitFailure;
      }
      console.err << renderApiError(error) << "\n";
      return kExitFailure;
    }
    cfg = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
    if (!cfg.is_object()) cfg = json::object();  // created; print what the command line said
    if (opts.publish) published = fieldText(cfg, "Version");  // Publish=true answers the version
  }
  printDeployed(cfg, mode, opts, zip->size(), console.out);
  if (opts.publish) {
    if (published.empty() || published == "$LATEST") {
      console.err << "error: the function was deployed but no version was published\n";
      return kExitFailure;
    }
    console.out << "published version " << published << "\n";
  }
  return kExitOk;
}

int runInvoke(HttpClient& client, const InvokeOptions& opts, Console console) {
  auto payload = loadPayload(opts.payload);
  if (!payload) {
    console.err << "error: --payload: " << payload.error().message() << "\n";
    return kExitFailure;
  }
  auto res = invokeFunction(client, opts.name, std::move(*payload), opts.qualifier);
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  printBody(res->body(), console.out);
  if (auto log = res->find(kHeaderLogResult); log != res->end()) {
    if (auto decoded = decodeLogResult(log->value())) {
      std::string_view report = findReportLine(*decoded);
      if (!report.empty()) console.out << formatReportLine(report, false) << "\n";
    }
  }
  if (auto fe = res->find(kHeaderFunctionError); fe != res->end()) {
    console.err << "error: function error (" << fe->value() << ")\n";
    return kExitFunctionError;
  }
  return kExitOk;
}

int runList(HttpClient& client, Console console) {
  std::vector<FunctionRow> rows;
  std::string marker;
  do {
    auto res = client.request(HttpVerb::get, listTarget(marker));
    if (!res) return reportTransportError(client, res.error(), console.err);
    if (!isSuccess(*res)) return reportApiError(*res, console.err);
    auto page = parseFunctionPage(res->body());
    if (!page) {
      console.err << "error: " << page.error().message() << "\n";
      return kExitFailure;
    }
    if (page->next_marker == marker && !marker.empty()) break;  // a server looping on us
    for (FunctionRow& row : page->rows) rows.push_back(std::move(row));
    marker = std::move(page->next_marker);
  } while (!marker.empty());
  console.out << formatFunctionTable(rows);
  return kExitOk;
}

int runRemove(HttpClient& client, std::string_view name, Console console) {
  auto res = deleteFunction(client, name);
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  console.out << "deleted " << name << "\n";
  return kExitOk;
}

int runLogs(HttpClient& client, const LogsOptions& opts, const std::atomic<bool>& stop,
            Console console) {
  std::map<std::string, uint64_t, std::less<>> offsets;  // bytes already printed per stream
  std::string last_printed;
  bool at_line_start = true;
  for (;;) {
    auto list = client.request(HttpVerb::get, logStreamsTarget(opts.name));
    if (!list && stop.load(std::memory_order_relaxed)) break;  // Ctrl-C cut the request short
    if (!list) return reportTransportError(client, list.error(), console.err);
    if (!isSuccess(*list)) return reportApiError(*list, console.err);
    auto streams = parseLogStreams(list->body());
    if (!streams) {
      console.err << "error: " << streams.error().message() << "\n";
      return kExitFailure;
    }
    for (size_t i = 0; i < streams->size(); ++i) {
      const LogStreamInfo& s = (*streams)[i];
      auto [it, inserted] = offsets.try_emplace(s.name, 0);
      // The newest stream may be written right now; its storedBytes can lag, so always ask.
      const bool newest = i + 1 == streams->size();
      if (!inserted && !newest && s.stored_bytes <= it->second) continue;
      auto res = client.request(HttpVerb::get, logStreamTarget(opts.name, s.name, it->second));
      if (!res && stop.load(std::memory_order_relaxed)) return kExitOk;
      if (!res) return reportTransportError(client, res.error(), console.err);
      if (res->result_int() == 404) continue;  // stream vanished (function re-created)
      if (!isSuccess(*res)) return reportApiError(*res, console.err);
      const std::string& chunk = res->body();
      if (chunk.empty()) continue;
      if (last_printed != s.name) {
        if (!at_line_start) console.out << '\n';
        console.out << "==> " << s.name << " <==\n";
        last_printed = s.name;
      }
      console.out << chunk;
      at_line_start = chunk.back() == '\n';
      it->second += chunk.size();
    }
    console.out.flush();
    if (!opts.follow) break;
    const auto wake = std::chrono::steady_clock::now() + kFollowInterval;
    while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < wake) {
      std::this_thread::sleep_for(kStopCheckSlice);
    }
    if (stop.load(std::memory_order_relaxed)) break;
  }
  return kExitOk;
}

}  // namespace kindling::cli
