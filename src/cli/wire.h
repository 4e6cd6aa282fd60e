// The AWS Lambda wire format as the CLI speaks it (lambda-interfaces.md §4-§5) plus kindling's
// log endpoints: request targets and bodies, error decoding, log-result decoding and the text
// the CLI prints. All pure functions, so every byte the CLI sends or shows is unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/http_client.h"
#include "cli/options.h"
#include "common/result.h"

namespace kindling::cli {

inline constexpr std::string_view kDefaultRole = "arn:aws:iam::000000000000:role/kindling";
inline constexpr std::string_view kFunctionsPath = "/2015-03-31/functions";
inline constexpr std::string_view kHealthPath = "/kindling/v1/health";
inline constexpr std::string_view kHeaderErrorType = "x-amzn-ErrorType";
inline constexpr std::string_view kHeaderFunctionError = "X-Amz-Function-Error";
inline constexpr std::string_view kHeaderLogResult = "X-Amz-Log-Result";
inline constexpr std::string_view kHeaderLogType = "X-Amz-Log-Type";
inline constexpr std::string_view kHeaderExecutedVersion = "X-Amz-Executed-Version";

// "/2015-03-31/functions/<name>" with the name percent-encoded.
std::string functionTarget(std::string_view name);
// "/2015-03-31/functions/<name>/invocations[?Qualifier=<q>]".
std::string invokeTarget(std::string_view name, std::string_view qualifier);
// "/2015-03-31/functions[?Marker=<m>]".
std::string listTarget(std::string_view marker);
// "/kindling/v1/functions/<name>/log-streams".
std::string logStreamsTarget(std::string_view name);
// "/kindling/v1/functions/<name>/log-streams/<stream>?offset=<n>".
std::string logStreamTarget(std::string_view name, std::string_view stream, uint64_t offset);

// CreateFunctionRequest JSON with Code.ZipFile = base64(zip). Builds the small fields with
// nlohmann and splices the (large) base64 text in with a single reserved buffer.
std::string buildCreateFunctionBody(const DeployOptions& spec, std::string_view zip);
// UpdateFunctionCode JSON: {"ZipFile": base64(zip)}, encoded into one reserved buffer.
std::string buildUpdateCodeBody(std::string_view zip);
// UpdateFunctionConfiguration JSON for a deploy: Runtime, Handler, MemorySize, Timeout and the
// whole Environment (empty clears it); RevisionId when not empty.
std::string buildUpdateConfigurationBody(const DeployOptions& spec, std::string_view revision_id);
// TagResource JSON: {"Tags": spec.tags}.
std::string buildTagBody(const DeployOptions& spec);

// An AWS error as returned in x-amzn-ErrorType + {"message"|"Message"}.
struct ApiError {
  std::string type;     // e.g. "ResourceNotFoundException"; "HTTP <status>" if none given
  std::string message;  // may be empty
  std::string reason = {};  // the body's "Reason" (429 throttles), may be empty
};

// Decodes an error response: type from x-amzn-ErrorType (cut at ':' / '#'), else the body's
// __type/code/Code; message from message/Message, else the raw body (trimmed, shortened).
ApiError parseApiError(const HttpResponse& res);
// "error: <Type>: <message> (reason: <Reason>)" (no trailing newline); the message and reason
// parts only when present.
std::string renderApiError(const ApiError& error);
// True if the daemon rejected the runtime itself (demo then tries the next runtime).
bool isRuntimeRejection(const ApiError& error);

// Base64-decodes an X-Amz-Log-Result header value; nullopt if malformed.
std::optional<std::string> decodeLogResult(std::string_view header_value);
// The last "REPORT RequestId: ..." line of a log tail, without its line ending; "" if none.
std::string_view findReportLine(std::string_view log);
// A REPORT line for humans: TAB separators become two spaces, trailing whitespace removed.
// With `drop_request_id` the leading "REPORT RequestId: <id>" field is left out.
std::string formatReportLine(std::string_view report, bool drop_request_id);

struct FunctionRow {
  std::string name;
  std::string runtime;
  int64_t memory_mb = 0;
  int64_t timeout_s = 0;
  std::string last_modified;
};
struct FunctionPage {
  std::vector<FunctionRow> rows;
  std::string next_marker;  // "" when this was the last page
};
// Parses a ListFunctions response body.
Result<FunctionPage> parseFunctionPage(std::string_view body);
// Column-aligned table with a header row (NAME RUNTIME MEMORY TIMEOUT LAST MODIFIED).
std::string formatFunctionTable(const std::vector<FunctionRow>& rows);

struct LogStreamInfo {
  std::string name;
  uint64_t stored_bytes = 0;
  int64_t last_event_ms = 0;
};
// Parses {"logStreams":[{"logStreamName","storedBytes","lastEventTimestamp"}]} (order kept).
Result<std::vector<LogStreamInfo>> parseLogStreams(std::string_view body);

}  // namespace kindling::cli
