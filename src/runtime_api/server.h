// The Runtime API server of one execution environment: an HTTP listener of its own (its port is
// the environment's AWS_LAMBDA_RUNTIME_API) that turns the runtime's requests into calls on a
// Backend (the environment's state machine) and the Backend's answers into the exact HTTP the
// official runtime clients expect (status codes, headers, JSON error envelopes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/result.h"
#include "http/server.h"

namespace kindling::runtime_api {

// What /next returns for one invocation.
struct NextInvocation {
  std::string request_id;
  int64_t deadline_epoch_ms = 0;
  std::string invoked_function_arn;
  std::string trace_id;
  std::string client_context;    // decoded JSON text, or empty
  std::string cognito_identity;  // JSON text, or empty
  std::string payload;
};

// The answer to a runtime's POST: 202 when accepted, else an error envelope.
struct PostOutcome {
  int status = 202;
  std::string error_type;  // empty when accepted
  std::string error_message;
  static PostOutcome accepted() { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  // GET /next. Call `deliver` exactly once when an invocation is assigned (maybe much later,
  // from any thread); never call it if the environment dies first.
  virtual void onNext(std::function<void(NextInvocation&&)> deliver) = 0;
  // POST /invocation/{id}/response (body complete, size within the limit).
  virtual PostOutcome onResponse(const std::string& request_id, std::string&& body) = 0;
  // POST /invocation/{id}/error; error_type may be empty (most clients send none).
  virtual PostOutcome onError(const std::string& request_id, std::string&& body,
                              const std::string& error_type) = 0;
  // POST /invocation/{id}/response whose body exceeded kMaxResponseBytes.
  virtual PostOutcome onResponseTooLarge(const std::string& request_id, uint64_t size) = 0;
  // POST /init/error.
  virtual PostOutcome onInitError(std::string&& body, const std::string& error_type) = 0;
  // GET /restore/next (SnapStart): the runtime has finished init and its before-snapshot hooks.
  // Returns an outcome to answer at once (404 unless this is a snap-start environment, 403 out
  // of order), or nullopt and then calls `restored` exactly once when the environment has been
  // restored (maybe much later, from any thread; never if it dies first). The default: 404.
  virtual std::optional<PostOutcome> onRestoreNext(std::function<void()> restored);
  // POST /restore/error (SnapStart): an after-restore hook failed. The default: 404.
  virtual PostOutcome onRestoreError(std::string&& body, const std::string& error_type);
};

class RuntimeApiServer {
 public:
  // Listens on host:0 and serves the Runtime API for `backend` (held weakly: calls stop once the
  // backend is gone).
  // `accept_filter` (optional) decides on each connection, e.g. only the environment's uid.
  static Result<std::unique_ptr<RuntimeApiServer>> start(
      boost::asio::io_context& io, const std::string& host, std::weak_ptr<Backend> backend,
      decltype(http::ServerOptions::accept_filter) accept_filter = nullptr);
  // Serves the Runtime API on an already listening socket (network mode `none`: the socket was
  // created inside the environment's own network namespace).
  static Result<std::unique_ptr<RuntimeApiServer>> adopt(boost::asio::io_context& io,
                                                         int listening_fd,
                                                         std::weak_ptr<Backend> backend);
  ~RuntimeApiServer();
  uint16_t port() const { return server_->port(); }
  void stop() { server_->stop(); }

 private:
  explicit RuntimeApiServer(std::shared_ptr<http::Server> server) : server_(std::move(server)) {}
  std::shared_ptr<http::Server> server_;
};

// Pure request routing, exposed for unit tests: answers `req` using `backend`.
void handleRuntimeRequest(http::Request&& req, http::Responder responder, Backend& backend);
// The JSON error envelope of the Runtime API: {"errorMessage":...,"errorType":...}\n
std::string errorEnvelope(std::string_view type, std::string_view message);

}  // namespace kindling::runtime_api
