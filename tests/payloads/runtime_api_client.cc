#include "runtime_api_client.h"

#include <charconv>

namespace kindling::payloads {
namespace {

constexpr HttpHeader kNextHeaders[] = {{"User-Agent", kUserAgent}};

}  // namespace

bool RuntimeApiClient::next(Invocation& out) {
  HttpRequest request{.method = "GET", .target = kNextPath, .headers = kNextHeaders};
  if (!http_.request(request, next_response_)) {
    failure_ = "GET " + std::string(kNextPath) + ": " + http_.lastError().message();
    return false;
  }
  if (next_response_.status != 200) {
    failure_ = "GET " + std::string(kNextPath) + " answered " +
               std::to_string(next_response_.status) + ": " +
               std::string(next_response_.body.substr(0, 512));
    return false;
  }
  std::string_view id = next_response_.header(kHeaderRequestId);
  if (id.empty()) {
    failure_ = "GET " + std::string(kNextPath) + " answered without " +
               std::string(kHeaderRequestId);
    return false;
  }
  request_id_.assign(id);
  out.request_id = request_id_;
  std::string_view deadline = next_response_.header(kHeaderDeadlineMs);
  std::int64_t deadline_ms = 0;
  auto [ptr, ec] = std::from_chars(deadline.data(), deadline.data() + deadline.size(), deadline_ms);
  bool parsed = ec == std::errc() && ptr == deadline.data() + deadline.size();
  out.deadline_ms = parsed ? deadline_ms : 0;
  out.event = next_response_.body;
  out.response = &next_response_;
  return true;
}

int RuntimeApiClient::post(std::string_view error_type, std::string_view body,
                           std::size_t chunk_size, std::string_view declared_trailers) {
  HttpHeader headers[3] = {{"User-Agent", kUserAgent}, {"Content-Type", "application/json"}, {}};
  std::size_t count = 2;
  if (!error_type.empty()) headers[count++] = {kHeaderErrorType, error_type};
  HttpRequest request{.method = "POST",
                      .target = target_,
                      .headers = std::span<const HttpHeader>(headers, count),
                      .body = body,
                      .chunk_size = chunk_size,
                      .declared_trailers = declared_trailers};
  if (!http_.request(request, post_response_)) {
    failure_ = "POST " + target_ + ": " + http_.lastError().message();
    return -1;
  }
  if (post_response_.status != 202) {
    failure_ = "POST " + target_ + " answered " + std::to_string(post_response_.status) + ": " +
               std::string(post_response_.body.substr(0, 512));
  }
  return post_response_.status;
}

int RuntimeApiClient::postResponse(std::string_view request_id, std::string_view body,
                                   std::size_t chunk_size, std::string_view declared_trailers) {
  target_.assign(kInvocationPrefix).append(request_id).append(kResponseSuffix);
  return post({}, body, chunk_size, declared_trailers);
}

int RuntimeApiClient::postError(std::string_view request_id, std::string_view error_type,
                                std::string_view body) {
  target_.assign(kInvocationPrefix).append(request_id).append(kErrorSuffix);
  return post(error_type, body, 0, {});
}

int RuntimeApiClient::postInitError(std::string_view error_type, std::string_view body) {
  target_.assign(kInitErrorPath);
  return post(error_type, body, 0, {});
}

}  // namespace kindling::payloads
