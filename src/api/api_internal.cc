#include "api/api_internal.h"

#include <cstdio>
#include <ctime>

#include "common/strings.h"

namespace kindling::api::detail {

namespace bhttp = boost::beast::http;
using nlohmann::json;

std::string httpDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

void send(const std::shared_ptr<ApiService::Ctx>& ctx, http::Response&& res) {
  if (res.find("x-amzn-RequestId") == res.end()) res.set("x-amzn-RequestId", ctx->request_id);
  res.set(bhttp::field::date, httpDate());
  res.keep_alive(ctx->req.keep_alive());
  ctx->responder.send(std::move(res));
}

void sendJson(const std::shared_ptr<ApiService::Ctx>& ctx, int status, const json& body) {
  http::Response res{static_cast<bhttp::status>(status), ctx->req.version()};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = body.dump();
  send(ctx, std::move(res));
}

void sendEmpty(const std::shared_ptr<ApiService::Ctx>& ctx, int status) {
  http::Response res{static_cast<bhttp::status>(status), ctx->req.version()};
  send(ctx, std::move(res));
}

void sendError(const std::shared_ptr<ApiService::Ctx>& ctx, const Error& error) {
  send(ctx, errorResponse(ctx->req, error, ctx->request_id));
}

void sendError(const std::shared_ptr<ApiService::Ctx>& ctx, int status, std::string_view type,
               const std::string& message) {
  send(ctx, errorResponse(ctx->req, status, type, message, ctx->request_id));
}

std::string newTraceId() {
  // Root=1-<8 hex epoch seconds>-<24 hex>, as X-Ray formats it.
  char epoch[16];
  std::snprintf(epoch, sizeof epoch, "%08lx", static_cast<unsigned long>(std::time(nullptr)));
  return "Root=1-" + std::string(epoch) + "-" + randomHex32().substr(0, 24) +
         ";Parent=" + randomHex32().substr(0, 16) + ";Sampled=0;Lineage=1:00000000:0";
}

bool isVersionNumber(std::string_view s) {
  if (s.empty() || s.size() > 10 || s[0] == '0') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

const scheduler::FunctionTarget* versionTarget(const ApiService::Entry& entry,
                                               std::string_view version) {
  if (version == "$LATEST") return &entry.latest;
  if (!isVersionNumber(version)) return nullptr;
  auto it = entry.versions.find(std::atoi(std::string(version).c_str()));
  return it == entry.versions.end() ? nullptr : &it->second;
}

void sendThrottled(const std::shared_ptr<ApiService::Ctx>& ctx, std::string_view reason,
                   std::string_view message) {
  http::Response res{bhttp::status::too_many_requests, ctx->req.version()};
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-amzn-ErrorType", "TooManyRequestsException");
  res.body() = json{{"Reason", reason}, {"Type", "User"}, {"message", message}}.dump();
  send(ctx, std::move(res));
}

std::optional<json> jsonBody(const std::shared_ptr<ApiService::Ctx>& ctx) {
  const std::string& body = ctx->req.body();
  json j = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    sendError(ctx, 400, "ValidationException", "Request body is not a JSON object");
    return std::nullopt;
  }
  return j;
}

}  // namespace kindling::api::detail
