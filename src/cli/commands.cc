#include "cli/commands.h"

#include <chrono>
#include <filesystem>
#include <map>
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

int runDeploy(HttpClient& client, const DeployOptions& opts, Console console) {
  auto zip = loadCodeZip(opts.code);
  if (!zip) {
    console.err << "error: " << zip.error().message() << "\n";
    return kExitFailure;
  }
  if (opts.replace) {
    auto del = deleteFunction(client, opts.name);
    if (!del) return reportTransportError(client, del.error(), console.err);
    if (!isSuccess(*del) && del->result_int() != 404) return reportApiError(*del, console.err);
  }
  auto res = createFunction(client, opts, *zip);
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) {
    ApiError error = parseApiError(*res);
    if (error.type == "ResourceConflictException" || res->result_int() == 409) {
      console.err << "error: function '" << opts.name
                  << "' already exists. Updating in place is not supported yet; re-run with "
                     "--replace to delete it and create it again.\n";
      return kExitFailure;
    }
    console.err << renderApiError(error) << "\n";
    return kExitFailure;
  }
  const json cfg = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  if (!cfg.is_object()) {
    console.out << "deployed " << opts.name << "\n";
    return kExitOk;
  }
  try {  // value() throws on a field of an unexpected type
    console.out << (opts.replace ? "replaced " : "deployed ")
                << cfg.value("FunctionName", opts.name)
                << "\n  runtime   " << cfg.value("Runtime", opts.runtime)
                << "\n  handler   " << cfg.value("Handler", opts.handler)
                << "\n  memory    " << cfg.value("MemorySize", opts.memory_mb) << " MB"
                << "\n  timeout   " << cfg.value("Timeout", opts.timeout_s) << " s"
                << "\n  code      " << cfg.value("CodeSize", static_cast<int64_t>(zip->size()))
                << " bytes, sha256 " << cfg.value("CodeSha256", std::string("?"))
                << "\n  arn       " << cfg.value("FunctionArn", std::string("?")) << "\n";
  } catch (const json::exception&) {
    console.out << "\n";
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
