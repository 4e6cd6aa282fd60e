#include "async/destinations.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "async/queue_store.h"
#include "common/strings.h"

namespace kindling::async {

namespace {

bool isFunctionName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool isQualifier(std::string_view s) {
  if (s == "$LATEST") return true;
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Appends `text` as JSON: verbatim when it is valid JSON, else as a JSON string.
void appendJsonValue(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
  } else if (nlohmann::json::accept(text)) {
    out += text;
  } else {
    out += nlohmann::json(std::string(text)).dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
  }
}

void appendString(std::string& out, std::string_view s) {
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

}  // namespace

Destination parseDestination(std::string_view arn) {
  Destination d;
  std::vector<std::string_view> p = split(arn, ':');
  if (p.size() < 6 || p[0] != "arn" || !startsWith(p[1], "aws")) return d;
  const std::string_view service = p[2];
  if (service == "lambda") {
    // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    if ((p.size() == 7 || p.size() == 8) && p[5] == "function" && isFunctionName(p[6]) &&
        (p.size() == 7 || isQualifier(p[7]))) {
      d.kind = Destination::Kind::Function;
      d.name = std::string(p[6]);
      if (p.size() == 8 && p[7] != "$LATEST") d.qualifier = std::string(p[7]);
    }
  } else if (service == "sqs") {
    if (auto name = sqsQueueName(arn)) {
      d.kind = Destination::Kind::Queue;
      d.name = std::move(*name);
    }
  } else if (service == "sns") {
    d.kind = Destination::Kind::Topic;
  } else if (service == "events") {
    d.kind = Destination::Kind::EventBus;
  } else if (service == "s3") {
    d.kind = Destination::Kind::Bucket;
  }
  return d;
}

std::string invocationRecord(const RecordInput& in) {
  std::string out;
  out.reserve(256 + in.request_payload.size() + in.response_payload.size());
  out += R"({"version":"1.0","timestamp":)";
  appendString(out, isoTimestampZ(in.timestamp_ms));
  out += R"(,"requestContext":{"requestId":)";
  appendString(out, in.request_id);
  out += R"(,"functionArn":)";
  appendString(out, in.function_arn);
  out += R"(,"condition":)";
  appendString(out, in.condition);
  out += R"(,"approximateInvokeCount":)";
  out += std::to_string(in.approximate_invoke_count);
  out += R"(},"requestPayload":)";
  appendJsonValue(out, in.request_payload);
  out += R"(,"responseContext":{"statusCode":)";
  out += std::to_string(in.status_code);
  if (in.ran) {
    out += R"(,"executedVersion":)";
    appendString(out, in.executed_version);
    if (!in.function_error.empty()) {
      out += R"(,"functionError":)";
      appendString(out, in.function_error);
    }
    out += R"(},"responsePayload":)";
    appendJsonValue(out, in.response_payload);
    out += '}';
  } else {
    out += "}}";
  }
  return out;
}

std::string deadLetterAttributes(std::string_view request_id, int error_code,
                                 std::string_view error_message) {
  auto attr = [](std::string_view value) {
    return nlohmann::json{{"DataType", "String"}, {"StringValue", std::string(value)}};
  };
  nlohmann::json j;
  j["RequestID"] = attr(request_id);
  j["ErrorCode"] = nlohmann::json{{"DataType", "Number"},
                                  {"StringValue", std::to_string(error_code)}};
  j["ErrorMessage"] = attr(error_message.substr(0, 1024));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kindling::async
