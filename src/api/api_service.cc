#include "api/api_service.h"

#include <ctime>
#include <map>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/error_map.h"
#include "api/function_json.h"
#include "api/function_name.h"
#include "api/routes.h"
#include "common/strings.h"

namespace kindling::api {

namespace bhttp = boost::beast::http;
using nlohmann::json;

struct ApiService::Ctx {
  explicit Ctx(http::Responder r) : responder(std::move(r)) {}
  http::Request req;
  http::Responder responder;
  std::string request_id;
  std::vector<std::string> segments;                        // decoded path segments
  std::multimap<std::string, std::string> query;            // decoded query parameters

  std::string queryValue(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

namespace {

std::string httpDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

void send(const std::shared_ptr<ApiService::Ctx>& ctx, http::Response&& res);

}  // namespace

ApiService::ApiService(ApiDeps deps) : deps_(std::move(deps)) {}

Status ApiService::loadFunctions() {
  auto all = deps_.registry.listFunctions();
  if (!all) return tl::unexpected(std::move(all.error()));
  std::unique_lock lock(cache_mu_);
  for (auto& fn : *all) {
    auto dir = deps_.code.dir(fn.code_sha256_hex);
    if (!dir) {
      spdlog::error("function {}: code package {} is missing: {}", fn.name, fn.code_sha256_hex,
                    dir.error().message());
      continue;
    }
    cache_[fn.name] = Cached{std::make_shared<const store::FunctionConfig>(fn), *dir};
  }
  return {};
}

std::string ApiService::regionOf(const http::Request& req) const {
  auto it = req.find(bhttp::field::authorization);
  if (it != req.end()) {
    std::string region = regionFromAuthorization(it->value());
    if (!region.empty()) return region;
  }
  return deps_.default_region;
}

http::ServerOptions ApiService::serverOptions() const {
  http::ServerOptions options;
  options.default_body_limit = 1 << 20;
  options.body_limit_for = [](const http::RequestHeader& header) -> uint64_t {
    std::string_view target = header.target();
    target = target.substr(0, target.find('?'));
    if (target.size() > 12 && target.substr(target.size() - 12) == "/invocations") {
      return kMaxInvokeRequestBytes;
    }
    if (header.method() == bhttp::verb::post || header.method() == bhttp::verb::put) {
      return kMaxCreateFunctionBytes;
    }
    return 1 << 20;
  };
  options.on_body_too_large = [](const http::RequestHeader& header) {
    std::string_view target = header.target();
    target = target.substr(0, target.find('?'));
    const bool invoke = target.size() > 12 && target.substr(target.size() - 12) == "/invocations";
    http::Request fake;
    fake.version(header.version());
    const std::string id = uuid4();
    return errorResponse(
        fake, 413, "RequestEntityTooLargeException",
        invoke ? "Request must be smaller than " + std::to_string(kMaxInvokeRequestBytes) +
                     " bytes for the InvokeFunction operation"
               : "Request must be smaller than " + std::to_string(kMaxCreateFunctionBytes) +
                     " bytes for the CreateFunction operation",
        id);
  };
  return options;
}

namespace {

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

}  // namespace

void ApiService::handle(http::Request&& req, http::Responder responder) {
  auto ctx = std::make_shared<Ctx>(std::move(responder));
  ctx->req = std::move(req);
  ctx->request_id = uuid4();
  std::string_view target = ctx->req.target();
  const size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) {
    for (auto pair : split(target.substr(qpos + 1), '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      auto key = urlDecode(pair.substr(0, eq), true);
      auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                : urlDecode(pair.substr(eq + 1), true);
      if (!key || !value) return sendError(ctx, 400, "ValidationException", "Malformed query string");
      ctx->query.emplace(std::move(*key), std::move(*value));
    }
  }
  for (auto seg : split(path, '/')) {
    if (seg.empty()) continue;
    auto decoded = urlDecode(seg);
    if (!decoded) return sendError(ctx, 400, "ValidationException", "Malformed request path");
    ctx->segments.push_back(std::move(*decoded));
  }
  route(ctx);
}

void ApiService::route(const std::shared_ptr<Ctx>& ctx) {
  const Route r = matchRoute(ctx->req.method(), ctx->segments);
  switch (r.op) {
    case Operation::CreateFunction: return createFunction(ctx);
    case Operation::ListFunctions: return listFunctions(ctx);
    case Operation::GetFunction: return getFunction(ctx, r.function, false);
    case Operation::GetFunctionConfiguration: return getFunction(ctx, r.function, true);
    case Operation::DeleteFunction: return deleteFunction(ctx, r.function);
    case Operation::Invoke: return invoke(ctx, r.function);
    case Operation::Tags: return tags(ctx, r.function);
    case Operation::Metrics: {
      http::Response res{bhttp::status::ok, ctx->req.version()};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
      res.body() = deps_.metrics.renderPrometheus();
      return send(ctx, std::move(res));
    }
    case Operation::Health: return sendJson(ctx, 200, json{{"status", "ok"}});
    case Operation::ListLogStreams: return logStreams(ctx, r.function, nullptr);
    case Operation::ReadLogStream: return logStreams(ctx, r.function, &r.stream);
    case Operation::DownloadCode: return downloadCode(ctx, r.function);
    case Operation::NotImplemented:
      return sendError(ctx, 501, "NotImplementedException",
                       "kindling does not implement " + r.unimplemented +
                           " yet (it comes with the control-plane work).");
    case Operation::Unknown: break;
  }
  sendError(ctx, 404, "UnknownOperationException",
            "Unknown operation " + std::string(ctx->req.method_string()) + " " +
                std::string(ctx->req.target()));
}

Result<ApiService::Cached> ApiService::resolve(const Ctx& ctx, const std::string& raw_name,
                                               bool allow_qualifier) const {
  auto ref = parseFunctionRef(raw_name);
  if (!ref) return tl::unexpected(std::move(ref.error()));
  const std::string region = regionOf(ctx.req);
  if (!ref->region.empty() && ref->region != region) {
    return makeError(ErrorCode::NotFound, "Functions from '" + ref->region +
                                              "' are not reachable in this region ('" + region +
                                              "')");
  }
  std::string qualifier = ref->qualifier;
  const std::string query_qualifier = ctx.queryValue("Qualifier");
  if (!query_qualifier.empty()) {
    if (!qualifier.empty() && qualifier != query_qualifier) {
      return makeError(ErrorCode::InvalidArgument,
                       "The derived qualifier from the function name does not match the "
                       "specified qualifier.");
    }
    qualifier = query_qualifier;
  }
  if (!allow_qualifier && !qualifier.empty() && qualifier != "$LATEST") {
    return makeError(ErrorCode::NotFound,
                     "Function not found: " + functionArn(region, ref->name, qualifier));
  }
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(ref->name);
    if (it != cache_.end() && (qualifier.empty() || qualifier == "$LATEST")) return it->second;
  }
  return makeError(ErrorCode::NotFound, "Function not found: " +
                                            functionArn(region, ref->name, qualifier));
}

void ApiService::invoke(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto fn = resolve(*ctx, raw_name, true);
  if (!fn) return sendError(ctx, fn.error());
  std::string type = "RequestResponse";
  if (auto it = ctx->req.find("X-Amz-Invocation-Type"); it != ctx->req.end()) {
    type = std::string(it->value());
  }
  if (type == "DryRun") return sendEmpty(ctx, 204);
  if (type == "Event") {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "kindling does not support InvocationType Event yet (asynchronous "
                     "invocation comes with the control-plane work); use RequestResponse.");
  }
  if (type != "RequestResponse") {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "1 validation error detected: Value '" + type +
                         "' at 'invocationType' failed to satisfy constraint: Member must "
                         "satisfy enum value set: [Event, RequestResponse, DryRun]");
  }
  std::string payload = std::move(ctx->req.body());
  if (payload.empty()) {
    payload = "{}";
  } else if (!json::accept(payload)) {
    return sendError(ctx, 400, "InvalidRequestContentException",
                     "Could not parse request body into json: Could not parse payload into json: "
                     "Unexpected character or end of input");
  }
  scheduler::InvokeRequest request;
  request.request_id = ctx->request_id;
  request.payload = std::move(payload);
  request.invoked_function_arn = functionArn(regionOf(ctx->req), fn->config->name,
                                             ctx->queryValue("Qualifier"));
  if (auto it = ctx->req.find("X-Amz-Client-Context"); it != ctx->req.end()) {
    auto decoded = base64Decode(it->value());
    if (!decoded || !json::accept(*decoded)) {
      return sendError(ctx, 400, "InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.");
    }
    request.client_context = std::move(*decoded);
  }
  if (auto it = ctx->req.find("X-Amzn-Trace-Id"); it != ctx->req.end()) {
    request.trace_id = std::string(it->value());
  } else {
    // Root=1-<8 hex epoch seconds>-<24 hex>, as X-Ray formats it.
    char epoch[16];
    std::snprintf(epoch, sizeof epoch, "%08lx", static_cast<unsigned long>(std::time(nullptr)));
    request.trace_id = "Root=1-" + std::string(epoch) + "-" + randomHex32().substr(0, 24) +
                       ";Parent=" + randomHex32().substr(0, 16) + ";Sampled=0;Lineage=1:00000000:0";
  }
  bool tail = false;
  if (auto it = ctx->req.find("X-Amz-Log-Type"); it != ctx->req.end()) tail = it->value() == "Tail";
  request.want_log_tail = tail;
  const std::string version = fn->config->version;
  in_flight_.fetch_add(1);
  request.done = [this, ctx, tail, version](scheduler::InvokeResult&& result) {
    http::Response res{bhttp::status::ok, ctx->req.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.set("X-Amz-Executed-Version", version);
    if (result.function_error) res.set("X-Amz-Function-Error", "Unhandled");
    if (tail) res.set("X-Amz-Log-Result", base64Encode(result.log_tail));
    res.body() = std::move(result.payload);
    send(ctx, std::move(res));
    in_flight_.fetch_sub(1);
  };
  deps_.engine.invoke(fn->config, fn->code_dir, std::move(request));
}

void ApiService::createFunction(const std::shared_ptr<Ctx>& ctx) {
  boost::asio::post(deps_.blocking, [this, ctx] {
    auto input = parseCreateFunction(ctx->req.body());
    ctx->req.body().clear();
    if (!input) return sendError(ctx, input.error());
    auto& fn = input->config;
    if (auto st = deps_.catalog.check(fn.runtime); !st) return sendError(ctx, st.error());
    std::lock_guard lock(mgmt_mu_);
    {
      std::shared_lock cache_lock(cache_mu_);
      if (cache_.count(fn.name)) {
        return sendError(ctx, 409, "ResourceConflictException",
                         "Function already exist: " + fn.name);
      }
    }
    auto stored = deps_.code.put(input->zip_bytes);
    if (!stored) return sendError(ctx, stored.error());
    fn.code_sha256 = stored->sha256_b64;
    fn.code_sha256_hex = stored->sha256_hex;
    fn.code_size = stored->zip_size;
    fn.last_modified_ms = SystemClock().epochMillis();
    fn.revision_id = uuid4();
    fn.version = "$LATEST";
    if (auto st = deps_.registry.createFunction(fn); !st) {
      if (st.error().code == ErrorCode::Conflict) {
        return sendError(ctx, 409, "ResourceConflictException", "Function already exist: " + fn.name);
      }
      return sendError(ctx, st.error());
    }
    auto config = std::make_shared<const store::FunctionConfig>(fn);
    {
      std::unique_lock cache_lock(cache_mu_);
      cache_[fn.name] = Cached{config, stored->dir};
    }
    spdlog::info("CreateFunction {} runtime={} memory={}MB code={}", fn.name, fn.runtime,
                 fn.memory_mb, fn.code_sha256);
    sendJson(ctx, 201, functionConfiguration(fn, regionOf(ctx->req)));
  });
}

void ApiService::getFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name,
                             bool configuration_only) {
  auto fn = resolve(*ctx, raw_name, false);
  if (!fn) return sendError(ctx, fn.error());
  const std::string region = regionOf(ctx->req);
  json config = functionConfiguration(*fn->config, region);
  if (configuration_only) return sendJson(ctx, 200, config);
  json body;
  body["Configuration"] = std::move(config);
  std::string host = "127.0.0.1";
  if (auto it = ctx->req.find(bhttp::field::host); it != ctx->req.end()) host = std::string(it->value());
  body["Code"] = {{"RepositoryType", "S3"},
                  {"Location", "http://" + host + "/kindling/v1/functions/" + fn->config->name + "/code"}};
  if (!fn->config->tags.empty()) body["Tags"] = fn->config->tags;
  sendJson(ctx, 200, body);
}

void ApiService::listFunctions(const std::shared_ptr<Ctx>& ctx) {
  std::vector<std::shared_ptr<const store::FunctionConfig>> all;
  {
    std::shared_lock lock(cache_mu_);
    for (const auto& [name, cached] : cache_) all.push_back(cached.config);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  int max_items = 50;
  if (auto m = ctx->queryValue("MaxItems"); !m.empty()) {
    max_items = std::atoi(m.c_str());
    if (max_items < 1 || max_items > 10000) {
      return sendError(ctx, 400, "ValidationException",
                       "1 validation error detected: Value '" + m +
                           "' at 'maxItems' failed to satisfy constraint: Member must have value "
                           "between 1 and 10000");
    }
    max_items = std::min(max_items, 50);
  }
  const std::string marker = ctx->queryValue("Marker");
  const std::string region = regionOf(ctx->req);
  json functions = json::array();
  std::string next_marker;
  for (const auto& fn : all) {
    if (!marker.empty() && fn->name <= marker) continue;
    if (static_cast<int>(functions.size()) == max_items) {
      next_marker = functions.back()["FunctionName"].get<std::string>();
      break;
    }
    json c = functionConfiguration(*fn, region);
    for (const char* key : {"State", "LastUpdateStatus"}) c.erase(key);
    functions.push_back(std::move(c));
  }
  json body;
  body["Functions"] = std::move(functions);
  if (!next_marker.empty()) body["NextMarker"] = next_marker;
  sendJson(ctx, 200, body);
}

void ApiService::deleteFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto ref = parseFunctionRef(raw_name);
  if (!ref) return sendError(ctx, ref.error());
  std::string qualifier = ref->qualifier.empty() ? ctx->queryValue("Qualifier") : ref->qualifier;
  if (qualifier == "$LATEST") {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "$LATEST version cannot be deleted without deleting the function.");
  }
  auto fn = resolve(*ctx, raw_name, false);
  if (!fn) return sendError(ctx, fn.error());
  boost::asio::post(deps_.blocking, [this, ctx, name = fn->config->name] {
    std::lock_guard lock(mgmt_mu_);
    std::string digest;
    {
      std::shared_lock cache_lock(cache_mu_);
      auto it = cache_.find(name);
      if (it == cache_.end()) {
        return sendError(ctx, 404, "ResourceNotFoundException",
                         "Function not found: " + functionArn(regionOf(ctx->req), name));
      }
      digest = it->second.config->code_sha256_hex;
    }
    if (auto st = deps_.registry.deleteFunction(name); !st) return sendError(ctx, st.error());
    {
      std::unique_lock cache_lock(cache_mu_);
      cache_.erase(name);
    }
    deps_.engine.removeFunction(name);
    if (auto refs = deps_.registry.codeReferences(digest); refs && *refs == 0) {
      if (auto st = deps_.code.remove(digest); !st) {
        spdlog::warn("code gc {}: {}", digest, st.error().message());
      }
    }
    spdlog::info("DeleteFunction {}", name);
    sendEmpty(ctx, 204);
  });
}

void ApiService::tags(const std::shared_ptr<Ctx>& ctx, const std::string& raw_arn) {
  auto ref = parseFunctionRef(raw_arn);
  if (!ref || ref->account.empty() || !ref->qualifier.empty()) {
    return sendError(ctx, 400, "ValidationException",
                     "1 validation error detected: Value '" + raw_arn +
                         "' at 'resource' failed to satisfy constraint: Member must be a function "
                         "ARN without a qualifier");
  }
  auto fn = resolve(*ctx, raw_arn, false);
  if (!fn) return sendError(ctx, fn.error());
  const auto method = ctx->req.method();
  if (method == bhttp::verb::get) return sendJson(ctx, 200, json{{"Tags", fn->config->tags}});
  if (method != bhttp::verb::post && method != bhttp::verb::delete_) {
    return sendError(ctx, 405, "ValidationException", "Unsupported method for tags");
  }
  boost::asio::post(deps_.blocking, [this, ctx, name = fn->config->name, method] {
    std::lock_guard lock(mgmt_mu_);
    Status st;
    if (method == bhttp::verb::post) {
      json body = json::parse(ctx->req.body(), nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("Tags")) {
        return sendError(ctx, 400, "ValidationException", "Tags are required");
      }
      auto parsed = parseTags(body["Tags"]);
      if (!parsed) return sendError(ctx, parsed.error());
      st = deps_.registry.tagFunction(name, *parsed);
    } else {
      std::vector<std::string> keys;
      auto range = ctx->query.equal_range("tagKeys");
      for (auto it = range.first; it != range.second; ++it) keys.push_back(it->second);
      st = deps_.registry.untagFunction(name, keys);
    }
    if (!st) return sendError(ctx, st.error());
    auto fresh = deps_.registry.getFunction(name);
    if (!fresh) return sendError(ctx, fresh.error());
    {
      std::unique_lock cache_lock(cache_mu_);
      auto it = cache_.find(name);
      // Tags do not change the running configuration: keep the environments (same revision).
      if (it != cache_.end()) {
        it->second.config = std::make_shared<const store::FunctionConfig>(std::move(*fresh));
      }
    }
    sendEmpty(ctx, 204);
  });
}

void ApiService::logStreams(const std::shared_ptr<Ctx>& ctx, const std::string& name,
                            const std::string* stream) {
  if (!isValidFunctionName(name)) {
    return sendError(ctx, 400, "ValidationException", "Invalid function name");
  }
  if (!stream) {
    auto streams = deps_.logs.listStreams(name);
    if (!streams) return sendError(ctx, streams.error());
    json list = json::array();
    for (const auto& s : *streams) {
      list.push_back({{"logStreamName", s.name},
                      {"storedBytes", s.size},
                      {"lastEventTimestamp", s.mtime_ms}});
    }
    return sendJson(ctx, 200, json{{"logStreams", std::move(list)}});
  }
  const uint64_t offset = std::strtoull(ctx->queryValue("offset").c_str(), nullptr, 10);
  auto data = deps_.logs.read(name, *stream, offset, 4 << 20);
  if (!data) return sendError(ctx, data.error());
  http::Response res{bhttp::status::ok, ctx->req.version()};
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(*data);
  send(ctx, std::move(res));
}

void ApiService::downloadCode(const std::shared_ptr<Ctx>& ctx, const std::string& name) {
  std::string digest;
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(name);
    if (it == cache_.end()) {
      return sendError(ctx, 404, "ResourceNotFoundException",
                       "Function not found: " + functionArn(regionOf(ctx->req), name));
    }
    digest = it->second.config->code_sha256_hex;
  }
  auto zip = deps_.code.readZip(digest);
  if (!zip) return sendError(ctx, zip.error());
  http::Response res{bhttp::status::ok, ctx->req.version()};
  res.set(bhttp::field::content_type, "application/zip");
  res.body() = std::move(*zip);
  send(ctx, std::move(res));
}

}  // namespace kindling::api
