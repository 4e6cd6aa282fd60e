#include "kindling/lambda/runtime_client.h"

#include <charconv>

namespace kindling::lambda {

bool RuntimeClient::next(Invocation& out) {
  const HttpHeader headers[] = {{"User-Agent", user_agent_}};
  HttpRequest request{.method = "GET", .target = kNextPath, .headers = headers};
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

int RuntimeClient::post(std::string_view error_type, std::string_view body,
                        std::size_t chunk_size, std::string_view declared_trailers,
                        std::string_view content_type) {
  HttpHeader headers[3] = {{"User-Agent", user_agent_}, {"Content-Type", content_type}, {}};
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

int RuntimeClient::postResponse(std::string_view request_id, std::string_view body,
                                std::size_t chunk_size, std::string_view declared_trailers,
                                std::string_view content_type) {
  target_.assign(kInvocationPrefix).append(request_id).append(kResponseSuffix);
  return post({}, body, chunk_size, declared_trailers, content_type);
}

int RuntimeClient::postError(std::string_view request_id, std::string_view error_type,
                             std::string_view body) {
  target_.assign(kInvocationPrefix).append(request_id).append(kErrorSuffix);
  return post(error_type, body, 0, {}, kJsonContentType);
}

int RuntimeClient::postInitError(std::string_view error_type, std::string_view body) {
  target_.assign(kInitErrorPath);
  return post(error_type, body, 0, {}, kJsonContentType);
}

void appendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
}

}  // namespace kindling::lambda
