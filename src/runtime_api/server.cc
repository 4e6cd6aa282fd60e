#include "runtime_api/server.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "runtime_api/wire.h"

namespace kindling::runtime_api {

namespace bhttp = boost::beast::http;

std::string errorEnvelope(std::string_view type, std::string_view message) {
  nlohmann::json j;
  j["errorMessage"] = message;
  j["errorType"] = type;
  return j.dump() + "\n";
}

namespace {

http::Response jsonResponse(const http::Request& req, int status, std::string body) {
  http::Response res{static_cast<bhttp::status>(status), req.version()};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(req.keep_alive());
  return res;
}

http::Response outcomeResponse(const http::Request& req, const PostOutcome& outcome) {
  if (outcome.error_type.empty()) {
    return jsonResponse(req, outcome.status, "{\"status\":\"OK\"}\n");
  }
  return jsonResponse(req, outcome.status,
                      errorEnvelope(outcome.error_type, outcome.error_message));
}

std::string headerValue(const http::Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
}

}  // namespace

std::optional<PostOutcome> Backend::onRestoreNext(std::function<void()>) {
  return PostOutcome{404, std::string(kErrNotFound), "Not Found"};
}

PostOutcome Backend::onRestoreError(std::string&&, const std::string&) {
  return PostOutcome{404, std::string(kErrNotFound), "Not Found"};
}

void handleRuntimeRequest(http::Request&& req, http::Responder responder, Backend& backend) {
  const std::string_view target = req.target();
  const auto method = req.method();

  if (target == kNextPath) {
    if (method != bhttp::verb::get) {
      return responder.send(jsonResponse(req, 405, errorEnvelope("MethodNotAllowed", "GET only")));
    }
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    backend.onNext([responder, version, keep_alive](NextInvocation&& inv) {
      http::Response res{bhttp::status::ok, version};
      res.set(kHeaderRequestId, inv.request_id);
      res.set(kHeaderDeadlineMs, std::to_string(inv.deadline_epoch_ms));
      res.set(kHeaderFunctionArn, inv.invoked_function_arn);
      if (!inv.trace_id.empty()) res.set(kHeaderTraceId, inv.trace_id);
      if (!inv.client_context.empty()) res.set(kHeaderClientContext, inv.client_context);
      if (!inv.cognito_identity.empty()) res.set(kHeaderCognitoIdentity, inv.cognito_identity);
      // Always present: aws-lambda-cpp (inside the Python/Node/Java clients) crashes without it.
      res.set(bhttp::field::content_type, "application/json");
      res.body() = std::move(inv.payload);
      res.keep_alive(keep_alive);
      responder.send(std::move(res));
    });
    return;
  }

  if (target == kInitErrorPath) {
    if (method != bhttp::verb::post) {
      return responder.send(jsonResponse(req, 405, errorEnvelope("MethodNotAllowed", "POST only")));
    }
    std::string type = headerValue(req, kHeaderErrorType);
    auto outcome = backend.onInitError(std::move(req.body()), type);
    return responder.send(outcomeResponse(req, outcome));
  }

  if (target == kRestoreNextPath) {
    if (method != bhttp::verb::get) {
      return responder.send(jsonResponse(req, 405, errorEnvelope("MethodNotAllowed", "GET only")));
    }
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    auto refused = backend.onRestoreNext([responder, version, keep_alive] {
      http::Response res{bhttp::status::ok, version};
      res.keep_alive(keep_alive);
      res.prepare_payload();  // Content-Length: 0
      responder.send(std::move(res));
    });
    if (refused) responder.send(outcomeResponse(req, *refused));
    return;
  }

  if (target == kRestoreErrorPath) {
    if (method != bhttp::verb::post) {
      return responder.send(jsonResponse(req, 405, errorEnvelope("MethodNotAllowed", "POST only")));
    }
    std::string type = headerValue(req, kHeaderErrorType);
    auto outcome = backend.onRestoreError(std::move(req.body()), type);
    return responder.send(outcomeResponse(req, outcome));
  }

  if (target.substr(0, kInvocationPrefix.size()) == kInvocationPrefix &&
      method == bhttp::verb::post) {
    std::string_view rest = target.substr(kInvocationPrefix.size());
    const size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      const std::string request_id(rest.substr(0, slash));
      const std::string_view action = rest.substr(slash + 1);
      if (action == "response") {
        auto mode = req.find(kHeaderResponseMode);
        if (mode != req.end() && !mode->value().empty() && mode->value() != "streaming") {
          return responder.send(jsonResponse(
              req, 400, errorEnvelope(kErrInvalidResponseMode, "Invalid function response mode")));
        }
        // A streamed response that failed mid-way carries its error in trailers (Node, Go).
        std::string trailer_type = headerValue(req, kHeaderErrorType);
        if (!trailer_type.empty()) {
          std::string body = headerValue(req, kHeaderErrorBody);
          if (auto decoded = base64Decode(body)) body = std::move(*decoded);
          auto outcome = backend.onError(request_id, std::move(body), trailer_type);
          return responder.send(outcomeResponse(req, outcome));
        }
        auto outcome = backend.onResponse(request_id, std::move(req.body()));
        return responder.send(outcomeResponse(req, outcome));
      }
      if (action == "error") {
        std::string type = headerValue(req, kHeaderErrorType);
        auto outcome = backend.onError(request_id, std::move(req.body()), type);
        return responder.send(outcomeResponse(req, outcome));
      }
    }
  }
  responder.send(jsonResponse(req, 404, errorEnvelope(kErrNotFound, "Not Found")));
}

namespace {

http::ServerOptions runtimeApiOptions(std::weak_ptr<Backend> backend) {
  http::ServerOptions options;
  options.default_body_limit = kMaxResponseBytes;
  options.body_limit_for = [](const http::RequestHeader&) -> uint64_t { return kMaxResponseBytes; };
  options.on_body_too_large = [backend](const http::RequestHeader& header) {
    std::string_view target = header.target();
    std::string request_id;
    if (target.substr(0, kInvocationPrefix.size()) == kInvocationPrefix) {
      auto rest = target.substr(kInvocationPrefix.size());
      request_id = std::string(rest.substr(0, rest.find('/')));
    }
    uint64_t size = 0;
    auto it = header.find(bhttp::field::content_length);
    if (it != header.end()) size = std::strtoull(std::string(it->value()).c_str(), nullptr, 10);
    if (auto b = backend.lock()) b->onResponseTooLarge(request_id, size);
    http::Response res{bhttp::status::payload_too_large, header.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = errorEnvelope(kErrRequestTooLarge,
                               "Exceeded maximum allowed payload size (6291556 bytes).");
    return res;
  };
  return options;
}

http::Server::Handler runtimeApiHandler(std::weak_ptr<Backend> backend) {
  return [backend](http::Request&& req, http::Responder responder) {
    auto b = backend.lock();
    if (!b) {
      return responder.send(http::makeResponse(
          req, bhttp::status::internal_server_error, "application/json",
          errorEnvelope("InternalServerError", "Internal Server Error")));
    }
    handleRuntimeRequest(std::move(req), std::move(responder), *b);
  };
}

}  // namespace

Result<std::unique_ptr<RuntimeApiServer>> RuntimeApiServer::start(
    boost::asio::io_context& io, const std::string& host, std::weak_ptr<Backend> backend,
    decltype(http::ServerOptions::accept_filter) accept_filter) {
  http::ServerOptions options = runtimeApiOptions(backend);
  options.accept_filter = std::move(accept_filter);
  auto server = http::Server::listen(io, host, 0, runtimeApiHandler(backend), std::move(options));
  if (!server) return tl::unexpected(std::move(server.error()).wrap("runtime api"));
  return std::unique_ptr<RuntimeApiServer>(new RuntimeApiServer(std::move(*server)));
}

Result<std::unique_ptr<RuntimeApiServer>> RuntimeApiServer::adopt(boost::asio::io_context& io,
                                                                  int listening_fd,
                                                                  std::weak_ptr<Backend> backend) {
  auto server = http::Server::adopt(io, listening_fd, runtimeApiHandler(backend),
                                    runtimeApiOptions(backend));
  if (!server) return tl::unexpected(std::move(server.error()).wrap("runtime api"));
  return std::unique_ptr<RuntimeApiServer>(new RuntimeApiServer(std::move(*server)));
}

RuntimeApiServer::~RuntimeApiServer() { server_->stop(); }

}  // namespace kindling::runtime_api
