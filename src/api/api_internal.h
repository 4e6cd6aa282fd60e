// Internals shared by the files that implement ApiService (api_service.cc and the per-area
// files: control_api.cc, layers_api.cc, async_api.cc): the request context and the helpers that
// render responses with AWS's headers. Not part of the api library's public surface.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_service.h"
#include "api/error_map.h"

namespace kindling::api {

struct ApiService::Ctx {
  explicit Ctx(http::Responder r) : responder(std::move(r)) {}
  http::Request req;
  http::Responder responder;
  std::string request_id;
  std::vector<std::string> segments;              // decoded path segments
  std::multimap<std::string, std::string> query;  // decoded query parameters

  std::string queryValue(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

namespace detail {

// "Thu, 26 Nov 2026 16:27:24 GMT" (the Date header).
std::string httpDate();
// Sends a response with x-amzn-RequestId, Date and keep-alive set.
void send(const std::shared_ptr<ApiService::Ctx>& ctx, http::Response&& res);
// Sends `body` as application/json with the given status.
void sendJson(const std::shared_ptr<ApiService::Ctx>& ctx, int status, const nlohmann::json& body);
// Sends an empty body with the given status.
void sendEmpty(const std::shared_ptr<ApiService::Ctx>& ctx, int status);
// Sends AWS's error shape for a kindling Error (error_map.h decides status and type).
void sendError(const std::shared_ptr<ApiService::Ctx>& ctx, const Error& error);
// Sends AWS's error shape with an explicit status, type and message.
void sendError(const std::shared_ptr<ApiService::Ctx>& ctx, int status, std::string_view type,
               const std::string& message);
// A fresh X-Ray trace header (Root=1-<epoch hex>-<24 hex>;Parent=...;Sampled=0).
std::string newTraceId();
// True for a published version number ("1", "42"; not "$LATEST", not an alias).
bool isVersionNumber(std::string_view s);
// The target of "$LATEST" or a version number in `entry`, or null.
const scheduler::FunctionTarget* versionTarget(const ApiService::Entry& entry,
                                               std::string_view version);
// Sends 429 TooManyRequestsException with Lambda's body {"Reason", "Type", "message"}.
void sendThrottled(const std::shared_ptr<ApiService::Ctx>& ctx, std::string_view reason,
                   std::string_view message = "Rate Exceeded.");
// Parses the request body as a JSON object; on failure sends a 400 and returns nullopt.
std::optional<nlohmann::json> jsonBody(const std::shared_ptr<ApiService::Ctx>& ctx);

}  // namespace detail
}  // namespace kindling::api
