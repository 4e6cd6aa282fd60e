// handleRuntimeRequest: Runtime API routing and wire format against a recording Backend, with a
// Responder that captures the response instead of writing to a socket.
#include "runtime_api/server.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "runtime_api/wire.h"

namespace kindling::runtime_api {
namespace {

namespace bhttp = boost::beast::http;

struct Call {
  std::string what;  // "response", "error", "too_large", "init_error"
  std::string request_id;
  std::string body;
  std::string error_type;
};

class RecordingBackend final : public Backend {
 public:
  void onNext(std::function<void(NextInvocation&&)> deliver) override {
    nexts.push_back(std::move(deliver));
  }
  PostOutcome onResponse(const std::string& request_id, std::string&& body) override {
    calls.push_back({"response", request_id, std::move(body), ""});
    return outcome;
  }
  PostOutcome onError(const std::string& request_id, std::string&& body,
                      const std::string& error_type) override {
    calls.push_back({"error", request_id, std::move(body), error_type});
    return outcome;
  }
  PostOutcome onResponseTooLarge(const std::string& request_id, uint64_t size) override {
    calls.push_back({"too_large", request_id, std::to_string(size), ""});
    return outcome;
  }
  PostOutcome onInitError(std::string&& body, const std::string& error_type) override {
    calls.push_back({"init_error", "", std::move(body), error_type});
    return outcome;
  }

  PostOutcome outcome = PostOutcome::accepted();
  std::vector<std::function<void(NextInvocation&&)>> nexts;
  std::vector<Call> calls;
};

class RuntimeApiTest : public ::testing::Test {
 protected:
  // Runs one request; the response (if sent synchronously or later) lands in responses_.
  void handle(bhttp::verb method, std::string target, std::string body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request req{method, target, 11};
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    http::Responder responder([this](http::Response&& res) { responses_.push_back(std::move(res)); });
    handleRuntimeRequest(std::move(req), std::move(responder), backend_);
  }
  const http::Response& last() const { return responses_.back(); }
  static std::string header(const http::Response& res, std::string_view name) {
    auto it = res.find(name);
    return it == res.end() ? "<absent>" : std::string(it->value());
  }

  RecordingBackend backend_;
  std::vector<http::Response> responses_;
};

constexpr const char* kNext = "/2018-06-01/runtime/invocation/next";

TEST_F(RuntimeApiTest, NextWaitsForDeliveryThenSendsHeaders) {
  handle(bhttp::verb::get, kNext);
  ASSERT_EQ(backend_.nexts.size(), 1u);
  EXPECT_TRUE(responses_.empty());  // long poll: nothing until an invocation is delivered

  NextInvocation inv;
  inv.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
  inv.deadline_epoch_ms = 1700000003000;
  inv.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
  inv.payload = R"({"key":"value"})";
  backend_.nexts[0](std::move(inv));

  ASSERT_EQ(responses_.size(), 1u);
  const http::Response& res = last();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(header(res, "Lambda-Runtime-Aws-Request-Id"), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  EXPECT_EQ(header(res, "Lambda-Runtime-Deadline-Ms"), "1700000003000");
  EXPECT_EQ(header(res, "Lambda-Runtime-Invoked-Function-Arn"),
            "arn:aws:lambda:us-east-1:000000000000:function:fn");
  EXPECT_EQ(header(res, "Content-Type"), "application/json");
  EXPECT_EQ(header(res, "Lambda-Runtime-Trace-Id"), "<absent>");
  EXPECT_EQ(header(res, "Lambda-Runtime-Client-Context"), "<absent>");
  EXPECT_EQ(header(res, "Lambda-Runtime-Cognito-Identity"), "<absent>");
  EXPECT_EQ(res.body(), R"({"key":"value"})");
  EXPECT_TRUE(res.keep_alive());
}

TEST_F(RuntimeApiTest, NextSendsOptionalHeadersWhenPresent) {
  handle(bhttp::verb::get, kNext);
  NextInvocation inv;
  inv.request_id = "r";
  inv.deadline_epoch_ms = 5;
  inv.invoked_function_arn = "arn";
  inv.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
  inv.client_context = R"({"custom":{"a":"b"}})";
  inv.cognito_identity = R"({"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"})";
  backend_.nexts.at(0)(std::move(inv));
  ASSERT_EQ(responses_.size(), 1u);
  EXPECT_EQ(header(last(), "Lambda-Runtime-Trace-Id"),
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  EXPECT_EQ(header(last(), "Lambda-Runtime-Client-Context"), R"({"custom":{"a":"b"}})");
  EXPECT_EQ(header(last(), "Lambda-Runtime-Cognito-Identity"),
            R"({"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"})");
  EXPECT_EQ(header(last(), "Content-Type"), "application/json");
  EXPECT_EQ(last().body(), "");
}

TEST_F(RuntimeApiTest, NextWithWrongMethodIs405) {
  handle(bhttp::verb::post, kNext);
  EXPECT_TRUE(backend_.nexts.empty());
  ASSERT_EQ(responses_.size(), 1u);
  EXPECT_EQ(last().result_int(), 405);
}

TEST_F(RuntimeApiTest, ResponseIsAccepted) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/response", "\"hello\"");
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].what, "response");
  EXPECT_EQ(backend_.calls[0].request_id, "req-1");
  EXPECT_EQ(backend_.calls[0].body, "\"hello\"");
  ASSERT_EQ(responses_.size(), 1u);
  EXPECT_EQ(last().result_int(), 202);
  EXPECT_EQ(last().body(), "{\"status\":\"OK\"}\n");
  EXPECT_EQ(header(last(), "Content-Type"), "application/json");
}

TEST_F(RuntimeApiTest, StreamingResponseModeIsAccepted) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/response", "chunk",
         {{"Lambda-Runtime-Function-Response-Mode", "streaming"}});
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].what, "response");
  EXPECT_EQ(last().result_int(), 202);
}

TEST_F(RuntimeApiTest, InvalidResponseModeIs400) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/response", "x",
         {{"Lambda-Runtime-Function-Response-Mode", "buffered"}});
  EXPECT_TRUE(backend_.calls.empty());
  ASSERT_EQ(responses_.size(), 1u);
  EXPECT_EQ(last().result_int(), 400);
  EXPECT_EQ(last().body(),
            "{\"errorMessage\":\"Invalid function response mode\","
            "\"errorType\":\"InvalidFunctionResponseMode\"}\n");
}

TEST_F(RuntimeApiTest, BackendRefusalBecomesErrorEnvelope) {
  backend_.outcome = {400, "InvalidRequestID", "Invalid request ID"};
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/nope/response", "{}");
  EXPECT_EQ(last().result_int(), 400);
  EXPECT_EQ(last().body(),
            "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n");
  EXPECT_EQ(header(last(), "Content-Type"), "application/json");
}

TEST_F(RuntimeApiTest, ErrorWithoutTypeHeader) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/error",
         R"({"errorMessage":"boom","errorType":"ValueError"})");
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].what, "error");
  EXPECT_EQ(backend_.calls[0].request_id, "req-1");
  EXPECT_EQ(backend_.calls[0].body, R"({"errorMessage":"boom","errorType":"ValueError"})");
  EXPECT_EQ(backend_.calls[0].error_type, "");
  EXPECT_EQ(last().result_int(), 202);
  EXPECT_EQ(last().body(), "{\"status\":\"OK\"}\n");
}

TEST_F(RuntimeApiTest, ErrorWithTypeHeader) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/error", "{}",
         {{"Lambda-Runtime-Function-Error-Type", "Runtime.UserCodeSyntaxError"}});
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].error_type, "Runtime.UserCodeSyntaxError");
  EXPECT_EQ(last().result_int(), 202);
}

TEST_F(RuntimeApiTest, StreamedResponseWithErrorTrailersIsAnError) {
  const std::string error_json = R"({"errorType":"Runtime.StreamError","errorMessage":"broke"})";
  handle(bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/response", "partial body",
         {{"Lambda-Runtime-Function-Response-Mode", "streaming"},
          {"Lambda-Runtime-Function-Error-Type", "Runtime.StreamError"},
          {"Lambda-Runtime-Function-Error-Body", base64Encode(error_json)}});
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].what, "error");
  EXPECT_EQ(backend_.calls[0].request_id, "req-1");
  EXPECT_EQ(backend_.calls[0].error_type, "Runtime.StreamError");
  EXPECT_EQ(backend_.calls[0].body, error_json);  // base64-decoded
  EXPECT_EQ(last().result_int(), 202);
}

TEST_F(RuntimeApiTest, InitErrorPassesBodyAndType) {
  handle(bhttp::verb::post, "/2018-06-01/runtime/init/error", R"({"errorType":"X"})",
         {{"Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError"}});
  ASSERT_EQ(backend_.calls.size(), 1u);
  EXPECT_EQ(backend_.calls[0].what, "init_error");
  EXPECT_EQ(backend_.calls[0].body, R"({"errorType":"X"})");
  EXPECT_EQ(backend_.calls[0].error_type, "Runtime.ImportModuleError");
  EXPECT_EQ(last().result_int(), 202);

  backend_.outcome = {403, "InvalidStateTransition", "State transition is not allowed"};
  handle(bhttp::verb::post, "/2018-06-01/runtime/init/error", "{}");
  EXPECT_EQ(last().result_int(), 403);
  EXPECT_EQ(last().body(),
            "{\"errorMessage\":\"State transition is not allowed\","
            "\"errorType\":\"InvalidStateTransition\"}\n");
}

TEST_F(RuntimeApiTest, UnknownPathsAre404WithEnvelope) {
  const std::string not_found = "{\"errorMessage\":\"Not Found\",\"errorType\":\"NotFound\"}\n";
  for (auto [method, target] : std::vector<std::pair<bhttp::verb, std::string>>{
           {bhttp::verb::get, "/2018-06-01/runtime/unknown"},
           {bhttp::verb::get, "/"},
           {bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1"},
           {bhttp::verb::post, "/2018-06-01/runtime/invocation/req-1/other"},
           {bhttp::verb::get, "/2018-06-01/runtime/invocation/req-1/response"},
           {bhttp::verb::get, "/2018-06-01/runtime/invocation/next/extra"}}) {
    SCOPED_TRACE(target);
    const size_t before = responses_.size();
    handle(method, target);
    ASSERT_EQ(responses_.size(), before + 1);
    EXPECT_EQ(last().result_int(), 404);
    EXPECT_EQ(last().body(), not_found);
    EXPECT_EQ(header(last(), "Content-Type"), "application/json");
  }
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_TRUE(backend_.nexts.empty());
}

// A snap-start environment's backend: holds GET /restore/next until restored() is called.
class SnapStartBackend final : public Backend {
 public:
  void onNext(std::function<void(NextInvocation&&)>) override {}
  PostOutcome onResponse(const std::string&, std::string&&) override { return {}; }
  PostOutcome onError(const std::string&, std::string&&, const std::string&) override {
    return {};
  }
  PostOutcome onResponseTooLarge(const std::string&, uint64_t) override { return {}; }
  PostOutcome onInitError(std::string&&, const std::string&) override { return {}; }
  std::optional<PostOutcome> onRestoreNext(std::function<void()> restored) override {
    if (refuse) return refuse;
    waiters.push_back(std::move(restored));
    return std::nullopt;
  }
  PostOutcome onRestoreError(std::string&& body, const std::string& error_type) override {
    errors.push_back({"restore_error", "", std::move(body), error_type});
    return PostOutcome::accepted();
  }
  std::optional<PostOutcome> refuse;
  std::vector<std::function<void()>> waiters;
  std::vector<Call> errors;
};

TEST_F(RuntimeApiTest, RestoreEndpointsAre404WithoutSnapStart) {
  // The default Backend (an environment that is not snap-start): like RIE without init caching.
  handle(bhttp::verb::get, "/2018-06-01/runtime/restore/next");
  EXPECT_EQ(last().result_int(), 404);
  EXPECT_EQ(last().body(), errorEnvelope(kErrNotFound, "Not Found"));
  handle(bhttp::verb::post, "/2018-06-01/runtime/restore/error", R"({"errorMessage":"x"})",
         {{"Lambda-Runtime-Function-Error-Type", "Runtime.AfterRestoreError"}});
  EXPECT_EQ(last().result_int(), 404);
  EXPECT_TRUE(backend_.calls.empty());
}

TEST(RuntimeApiSnapStartTest, RestoreNextIsHeldUntilRestoredThenEmpty200) {
  SnapStartBackend backend;
  std::vector<http::Response> responses;
  auto handle = [&](bhttp::verb method, std::string target, std::string body = {}) {
    http::Request req{method, target, 11};
    req.set("Lambda-Runtime-Function-Error-Type", "Runtime.AfterRestoreError");
    req.body() = std::move(body);
    req.prepare_payload();
    http::Responder responder([&](http::Response&& res) { responses.push_back(std::move(res)); });
    handleRuntimeRequest(std::move(req), std::move(responder), backend);
  };
  handle(bhttp::verb::get, "/2018-06-01/runtime/restore/next");
  EXPECT_TRUE(responses.empty());  // held: the snapshot point
  ASSERT_EQ(backend.waiters.size(), 1u);
  backend.waiters[0]();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].result_int(), 200);
  EXPECT_EQ(responses[0].body(), "");
  EXPECT_EQ(responses[0][bhttp::field::content_length], "0");

  handle(bhttp::verb::post, "/2018-06-01/runtime/restore/error", R"({"errorMessage":"boom"})");
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[1].result_int(), 202);
  ASSERT_EQ(backend.errors.size(), 1u);
  EXPECT_EQ(backend.errors[0].body, R"({"errorMessage":"boom"})");
  EXPECT_EQ(backend.errors[0].error_type, "Runtime.AfterRestoreError");

  backend.refuse = PostOutcome{403, std::string(kErrInvalidStateTransition), "no"};
  handle(bhttp::verb::get, "/2018-06-01/runtime/restore/next");
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[2].result_int(), 403);
  EXPECT_EQ(responses[2].body(), errorEnvelope(kErrInvalidStateTransition, "no"));

  handle(bhttp::verb::post, "/2018-06-01/runtime/restore/next");
  EXPECT_EQ(responses.back().result_int(), 405);
  handle(bhttp::verb::get, "/2018-06-01/runtime/restore/error");
  EXPECT_EQ(responses.back().result_int(), 405);
}

TEST(ErrorEnvelopeTest, EscapesAndEndsWithNewline) {
  EXPECT_EQ(errorEnvelope("T", "say \"hi\""),
            "{\"errorMessage\":\"say \\\"hi\\\"\",\"errorType\":\"T\"}\n");
}

}  // namespace
}  // namespace kindling::runtime_api
