#include "cli/wire.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "common/strings.h"

namespace kindling::cli {

using nlohmann::json;

namespace {

constexpr size_t kMaxRawErrorBody = 512;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Cuts "Type:http://internal..." or "namespace#Type" down to "Type" (botocore's rule).
std::string_view bareErrorType(std::string_view type) {
  if (const size_t hash = type.find('#'); hash != std::string_view::npos) {
    type.remove_prefix(hash + 1);
  }
  if (const size_t colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  return trim(type);
}

std::string stringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

int64_t intField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return 0;
  return it->get<int64_t>();
}

std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string functionTarget(std::string_view name) {
  std::string t(kFunctionsPath);
  t.push_back('/');
  t += urlEncode(name);
  return t;
}

std::string invokeTarget(std::string_view name, std::string_view qualifier) {
  std::string t = functionTarget(name);
  t += "/invocations";
  if (!qualifier.empty()) {
    t += "?Qualifier=";
    t += urlEncode(qualifier);
  }
  return t;
}

std::string listTarget(std::string_view marker) {
  std::string t(kFunctionsPath);
  if (!marker.empty()) {
    t += "?Marker=";
    t += urlEncode(marker);
  }
  return t;
}

std::string logStreamsTarget(std::string_view name) {
  return "/kindling/v1/functions/" + urlEncode(name) + "/log-streams";
}

std::string logStreamTarget(std::string_view name, std::string_view stream, uint64_t offset) {
  return logStreamsTarget(name) + "/" + urlEncode(stream) + "?offset=" + std::to_string(offset);
}

namespace {

// `head` is a JSON object text "{...}"; returns it with "<key>":"<base64(zip)>" (wrapped in
// `"<wrapper>":{...}` when wrapper is not empty) appended as its last member. The base64 is
// encoded straight into the one reserved buffer: no temporary copy of a ~70 MB string.
std::string spliceZipFile(std::string_view head, std::string_view wrapper, std::string_view zip) {
  static constexpr std::string_view kZipKey = "\"ZipFile\":\"";
  const size_t b64_len = 4 * ((zip.size() + 2) / 3);
  std::string body;
  body.reserve(head.size() + wrapper.size() + kZipKey.size() + b64_len + 16);
  body.append(head, 0, head.size() - 1);  // drop the closing '}'
  if (head.size() > 2) body.push_back(',');
  if (!wrapper.empty()) {
    body.push_back('"');
    body.append(wrapper);
    body.append("\":{");
  }
  body.append(kZipKey);
  const size_t at = body.size();
  body.resize(at + b64_len);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(body.data() + at),
                                reinterpret_cast<const unsigned char*>(zip.data()),
                                static_cast<int>(zip.size()));
  body.resize(at + static_cast<size_t>(n));
  body.push_back('"');
  if (!wrapper.empty()) body.push_back('}');
  body.push_back('}');
  return body;
}

}  // namespace

std::string buildCreateFunctionBody(const DeployOptions& spec, std::string_view zip) {
  json j = {
      {"FunctionName", spec.name}, {"Runtime", spec.runtime},     {"Handler", spec.handler},
      {"Role", kDefaultRole},      {"MemorySize", spec.memory_mb}, {"Timeout", spec.timeout_s},
  };
  if (!spec.env.empty()) j["Environment"] = {{"Variables", spec.env}};
  if (!spec.tags.empty()) j["Tags"] = spec.tags;
  if (spec.publish) j["Publish"] = true;
  return spliceZipFile(dumpJson(j), "Code", zip);
}

std::string buildUpdateCodeBody(std::string_view zip) { return spliceZipFile("{}", "", zip); }

std::string buildUpdateConfigurationBody(const DeployOptions& spec, std::string_view revision_id) {
  json j = {
      {"Runtime", spec.runtime},
      {"Handler", spec.handler},
      {"MemorySize", spec.memory_mb},
      {"Timeout", spec.timeout_s},
      // Always sent: the command line is the whole environment, so dropped --env keys go away.
      {"Environment", {{"Variables", spec.env.empty() ? json::object() : json(spec.env)}}},
  };
  if (!revision_id.empty()) j["RevisionId"] = revision_id;
  return dumpJson(j);
}

std::string buildTagBody(const DeployOptions& spec) { return dumpJson(json{{"Tags", spec.tags}}); }

ApiError parseApiError(const HttpResponse& res) {
  ApiError out;
  out.type = std::string(bareErrorType(res[kHeaderErrorType]));
  const json body = json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (out.type.empty()) {
      for (const char* key : {"__type", "code", "Code"}) {
        std::string v = stringField(body, key);
        if (!v.empty()) {
          out.type = std::string(bareErrorType(v));
          break;
        }
      }
    }
    out.message = stringField(body, "message");
    if (out.message.empty()) out.message = stringField(body, "Message");
    out.reason = stringField(body, "Reason");
  } else {
    std::string_view raw = trim(res.body());
    if (raw.size() > kMaxRawErrorBody) {
      out.message = std::string(raw.substr(0, kMaxRawErrorBody)) + "...";
    } else {
      out.message = std::string(raw);
    }
  }
  if (out.type.empty()) out.type = "HTTP " + std::to_string(res.result_int());
  return out;
}

std::string renderApiError(const ApiError& error) {
  std::string s = "error: " + error.type;
  if (!error.message.empty()) s += ": " + error.message;
  if (!error.reason.empty()) s += " (reason: " + error.reason + ")";
  return s;
}

bool isRuntimeRejection(const ApiError& error) {
  if (error.type == "InvalidRuntimeException") return true;
  if (error.type != "InvalidParameterValueException") return false;
  std::string lower = error.message;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("runtime") != std::string::npos;
}

std::optional<std::string> decodeLogResult(std::string_view header_value) {
  return base64Decode(trim(header_value));
}

std::string_view findReportLine(std::string_view log) {
  static constexpr std::string_view kReport = "REPORT RequestId:";
  size_t pos = log.rfind(kReport);
  while (pos != std::string_view::npos && pos != 0 && log[pos - 1] != '\n' &&
         log[pos - 1] != '\r') {
    pos = pos == 0 ? std::string_view::npos : log.rfind(kReport, pos - 1);
  }
  if (pos == std::string_view::npos) return {};
  std::string_view line = log.substr(pos);
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == '\t' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  return line;
}

std::string formatReportLine(std::string_view report, bool drop_request_id) {
  std::string_view rest = trim(report);
  if (drop_request_id) {
    static constexpr std::string_view kPrefix = "REPORT RequestId:";
    if (startsWith(rest, kPrefix)) {
      rest.remove_prefix(kPrefix.size());
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const size_t id_end = rest.find_first_of(" \t");
      rest = id_end == std::string_view::npos ? std::string_view{} : rest.substr(id_end);
    }
  }
  std::string out;
  out.reserve(rest.size() + 16);
  for (std::string_view field : split(rest, '\t')) {
    field = trim(field);
    if (field.empty()) continue;
    if (!out.empty()) out += "  ";
    out += field;
  }
  return out;
}

Result<FunctionPage> parseFunctionPage(std::string_view body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("Functions") || !j["Functions"].is_array()) {
    return makeError(ErrorCode::InvalidArgument,
                     "ListFunctions: response has no Functions array");
  }
  FunctionPage page;
  page.rows.reserve(j["Functions"].size());
  for (const json& f : j["Functions"]) {
    if (!f.is_object()) continue;
    page.rows.push_back(FunctionRow{stringField(f, "FunctionName"), stringField(f, "Runtime"),
                                    intField(f, "MemorySize"), intField(f, "Timeout"),
                                    stringField(f, "LastModified")});
  }
  page.next_marker = stringField(j, "NextMarker");
  return page;
}

std::string formatFunctionTable(const std::vector<FunctionRow>& rows) {
  static constexpr std::string_view kHeaders[] = {"NAME", "RUNTIME", "MEMORY", "TIMEOUT",
                                                  "LAST MODIFIED"};
  std::vector<std::array<std::string, 5>> cells;
  cells.reserve(rows.size() + 1);
  cells.push_back({std::string(kHeaders[0]), std::string(kHeaders[1]), std::string(kHeaders[2]),
                   std::string(kHeaders[3]), std::string(kHeaders[4])});
  for (const FunctionRow& r : rows) {
    cells.push_back({r.name, r.runtime.empty() ? "-" : r.runtime,
                     std::to_string(r.memory_mb) + " MB", std::to_string(r.timeout_s) + " s",
                     r.last_modified});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out.append(width[c] - row[c].size() + 2, ' ');
    }
    out.push_back('\n');
  }
  return out;
}

Result<std::vector<LogStreamInfo>> parseLogStreams(std::string_view body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("logStreams") || !j["logStreams"].is_array()) {
    return makeError(ErrorCode::InvalidArgument, "log-streams: response has no logStreams array");
  }
  std::vector<LogStreamInfo> out;
  out.reserve(j["logStreams"].size());
  for (const json& s : j["logStreams"]) {
    if (!s.is_object()) continue;
    LogStreamInfo info;
    info.name = stringField(s, "logStreamName");
    if (info.name.empty()) continue;
    info.stored_bytes = static_cast<uint64_t>(std::max<int64_t>(0, intField(s, "storedBytes")));
    info.last_event_ms = intField(s, "lastEventTimestamp");
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace kindling::cli
