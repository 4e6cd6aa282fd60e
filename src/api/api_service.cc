#include "api/api_service.h"

#include <ctime>
#include <map>
#include <random>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/api_internal.h"
#include "api/error_map.h"
#include "api/function_json.h"
#include "api/function_name.h"
#include "api/routes.h"
#include "common/strings.h"
#include "scheduler/concurrency.h"
#include "store/layer_store.h"

namespace kindling::api {

namespace bhttp = boost::beast::http;
using nlohmann::json;
using detail::isVersionNumber;
using detail::newTraceId;
using detail::send;
using detail::sendEmpty;
using detail::sendError;
using detail::sendJson;
using detail::sendThrottled;
using detail::versionTarget;

ApiService::ApiService(ApiDeps deps) : deps_(std::move(deps)) {}

Status ApiService::loadFunctions() {
  auto all = deps_.registry.loadAll();
  if (!all) return tl::unexpected(std::move(all.error()));
  std::lock_guard mgmt(mgmt_mu_);
  std::vector<std::shared_ptr<const Entry>> loaded;
  for (auto& record : *all) {
    auto entry = makeEntry(record);
    if (!entry) {
      spdlog::error("function {}: {}", record.latest.name, entry.error().message());
      continue;
    }
    deps_.limiter.setReserved(record.latest.name, record.reserved_concurrency);
    {
      std::unique_lock lock(cache_mu_);
      cache_[record.latest.name] = *entry;
    }
    loaded.push_back(std::move(*entry));
  }
  // Merged layer trees nothing uses any more (no environment runs yet, so none is mounted).
  if (deps_.layers) {
    if (auto st = deps_.layers->pruneMaterialized(optDirsInUse()); !st) {
      spdlog::warn("pruning merged layer trees: {}", st.error().message());
    }
  }
  for (const auto& entry : loaded) {
    applyProvisioned(*entry);
    deps_.engine.prewarm(entry->latest);  // one zygote per runtime in use, started now
  }
  return {};
}

Result<scheduler::FunctionTarget> ApiService::makeTarget(const store::FunctionConfig& config) const {
  scheduler::FunctionTarget target;
  auto dir = deps_.code.dir(config.code_sha256_hex);
  if (!dir) {
    return tl::unexpected(std::move(dir.error()).wrap("code package " + config.code_sha256_hex));
  }
  target.code_dir = std::move(*dir);
  if (!config.layers.empty()) {
    if (!deps_.layers) return makeError(ErrorCode::Unsupported, "layers are not available");
    auto opt = deps_.layers->materialize(config.layers);
    if (!opt) return tl::unexpected(std::move(opt.error()).wrap("layers"));
    target.opt_dir = std::move(*opt);
  }
  target.config = std::make_shared<const store::FunctionConfig>(config);
  return target;
}

Result<std::shared_ptr<const ApiService::Entry>> ApiService::makeEntry(
    const store::FunctionRecord& record) const {
  auto entry = std::make_shared<Entry>();
  auto old = this->entry(record.latest.name);
  // Keep the targets whose revision did not change (their environments stay warm).
  auto reuse = [](const scheduler::FunctionTarget* prev, const store::FunctionConfig& config)
      -> std::optional<scheduler::FunctionTarget> {
    if (!prev || prev->config->revision_id != config.revision_id) return std::nullopt;
    scheduler::FunctionTarget kept = *prev;
    // Tags do not change the running configuration (same revision): same environments.
    if (prev->config->tags != config.tags) {
      kept.config = std::make_shared<const store::FunctionConfig>(config);
    }
    return kept;
  };
  if (auto kept = reuse(old ? &old->latest : nullptr, record.latest)) {
    entry->latest = std::move(*kept);
  } else {
    auto target = makeTarget(record.latest);
    if (!target) return tl::unexpected(std::move(target.error()));
    entry->latest = std::move(*target);
  }
  for (const auto& [number, config] : record.versions) {
    const scheduler::FunctionTarget* prev = nullptr;
    if (old) {
      auto it = old->versions.find(number);
      if (it != old->versions.end()) prev = &it->second;
    }
    if (auto kept = reuse(prev, config)) {
      entry->versions.emplace(number, std::move(*kept));
      continue;
    }
    auto target = makeTarget(config);
    if (!target) return tl::unexpected(std::move(target.error()));
    entry->versions.emplace(number, std::move(*target));
  }
  entry->aliases = record.aliases;
  entry->reserved_concurrency = record.reserved_concurrency;
  entry->provisioned = record.provisioned;
  entry->event_invoke = record.event_invoke;
  entry->last_version = record.last_version;
  return std::shared_ptr<const Entry>(std::move(entry));
}

std::shared_ptr<const ApiService::Entry> ApiService::entry(const std::string& name) const {
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(name);
  return it == cache_.end() ? nullptr : it->second;
}

Status ApiService::refresh(const std::string& name) {
  auto record = deps_.registry.getRecord(name);
  if (!record) {
    if (record.error().code != ErrorCode::NotFound) return tl::unexpected(std::move(record.error()));
    std::unique_lock lock(cache_mu_);
    cache_.erase(name);
    return {};
  }
  auto fresh = makeEntry(*record);
  if (!fresh) return tl::unexpected(std::move(fresh.error()));
  deps_.limiter.setReserved(name, record->reserved_concurrency);
  {
    std::unique_lock lock(cache_mu_);
    cache_[name] = *fresh;
  }
  applyProvisioned(**fresh);
  // Its runtime's zygote starts now, not at its first cold start (fast start).
  deps_.engine.prewarm((*fresh)->latest);
  return {};
}

void ApiService::applyProvisioned(const Entry& entry) {
  // Provisioned concurrency per version: a version's own config, plus those of aliases that
  // point at it (AWS refuses two configs for the same version).
  std::map<int, int> wanted;
  for (const auto& [qualifier, pc] : entry.provisioned) {
    std::string version = qualifier;
    if (auto alias = entry.aliases.find(qualifier); alias != entry.aliases.end()) {
      version = alias->second.function_version;
    }
    const int number = std::atoi(version.c_str());
    if (entry.versions.count(number)) wanted[number] += pc.requested;
  }
  for (const auto& [number, target] : entry.versions) {
    auto it = wanted.find(number);
    const int count = it == wanted.end() ? 0 : it->second;
    if (count > 0 || deps_.engine.provisionedStatus(target.config->name, target.config->version).requested > 0) {
      deps_.engine.setProvisioned(target, count);
    }
  }
}

std::vector<std::filesystem::path> ApiService::optDirsInUse() const {
  std::vector<std::filesystem::path> dirs;
  std::shared_lock lock(cache_mu_);
  for (const auto& [name, e] : cache_) {
    if (!e->latest.opt_dir.empty()) dirs.push_back(e->latest.opt_dir);
    for (const auto& [n, t] : e->versions) {
      if (!t.opt_dir.empty()) dirs.push_back(t.opt_dir);
    }
  }
  return dirs;
}

Status ApiService::checkUnzippedSize(const std::filesystem::path& code_dir,
                                     const std::vector<store::LayerRef>& layers) const {
  if (layers.empty() || !deps_.layers) return {};
  int64_t code_bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(code_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) code_bytes += static_cast<int64_t>(it->file_size(ec));
  }
  return deps_.layers->checkUnzippedTotal(code_bytes, layers);
}

void ApiService::collectCode(const std::string& sha256_hex) {
  if (auto refs = deps_.registry.codeReferences(sha256_hex); refs && *refs == 0) {
    if (auto st = deps_.code.remove(sha256_hex); !st) {
      spdlog::warn("code gc {}: {}", sha256_hex, st.error().message());
    }
  }
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
    case Operation::UpdateFunctionCode: return updateFunctionCode(ctx, r.function);
    case Operation::UpdateFunctionConfiguration: return updateFunctionConfiguration(ctx, r.function);
    case Operation::PublishVersion: return publishVersion(ctx, r.function);
    case Operation::ListVersionsByFunction: return listVersions(ctx, r.function);
    case Operation::CreateAlias:
    case Operation::ListAliases:
    case Operation::GetAlias:
    case Operation::UpdateAlias:
    case Operation::DeleteAlias: return aliasOperation(ctx, r);
    case Operation::PutFunctionConcurrency:
    case Operation::GetFunctionConcurrency:
    case Operation::DeleteFunctionConcurrency: return functionConcurrency(ctx, r);
    case Operation::PutProvisionedConcurrencyConfig:
    case Operation::GetProvisionedConcurrencyConfig:
    case Operation::DeleteProvisionedConcurrencyConfig: return provisionedConcurrency(ctx, r);
    case Operation::PutFunctionEventInvokeConfig:
    case Operation::UpdateFunctionEventInvokeConfig:
    case Operation::GetFunctionEventInvokeConfig:
    case Operation::DeleteFunctionEventInvokeConfig:
    case Operation::ListFunctionEventInvokeConfigs: return eventInvokeConfig(ctx, r);
    case Operation::GetAccountSettings: return accountSettings(ctx);
    case Operation::PublishLayerVersion:
    case Operation::ListLayerVersions:
    case Operation::GetLayerVersion:
    case Operation::DeleteLayerVersion:
    case Operation::ListLayers: return layerOperation(ctx, r);
    case Operation::QueueReceive:
    case Operation::QueueList: return queueOperation(ctx, r);
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
                       "kindling does not implement " + r.unimplemented + ".");
    case Operation::Unknown: break;
  }
  sendError(ctx, 404, "UnknownOperationException",
            "Unknown operation " + std::string(ctx->req.method_string()) + " " +
                std::string(ctx->req.target()));
}

Result<ApiService::Resolved> ApiService::resolve(const Ctx& ctx, const std::string& raw_name,
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
  auto not_found = [&] {
    return makeError(ErrorCode::NotFound,
                     "Function not found: " + functionArn(region, ref->name, qualifier));
  };
  if (!allow_qualifier && !qualifier.empty() && qualifier != "$LATEST") return not_found();
  Resolved out;
  out.entry = entry(ref->name);
  if (!out.entry) return not_found();
  out.qualifier = qualifier;
  if (qualifier.empty() || qualifier == "$LATEST") {
    out.target = &out.entry->latest;
    return out;
  }
  if (isVersionNumber(qualifier)) {
    auto it = out.entry->versions.find(std::atoi(qualifier.c_str()));
    if (it == out.entry->versions.end()) return not_found();
    out.target = &it->second;
    return out;
  }
  auto alias = out.entry->aliases.find(qualifier);
  if (alias == out.entry->aliases.end()) return not_found();
  out.alias = &alias->second;
  out.target = versionTarget(*out.entry, alias->second.function_version);
  if (!out.target) return not_found();
  return out;
}

const scheduler::FunctionTarget* ApiService::pickTarget(const Resolved& fn) const {
  if (!fn.alias || fn.alias->additional_weights.empty()) return fn.target;
  // Weighted routing: each additional version takes its weight's share; the rest goes to the
  // alias's primary version.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  for (const auto& [version, weight] : fn.alias->additional_weights) {
    if (r < weight) {
      if (auto* t = versionTarget(*fn.entry, version)) return t;
      break;
    }
    r -= weight;
  }
  return fn.target;
}

void ApiService::invoke(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto fn = resolve(*ctx, raw_name, true);
  if (!fn) return sendError(ctx, fn.error());
  std::string type = "RequestResponse";
  if (auto it = ctx->req.find("X-Amz-Invocation-Type"); it != ctx->req.end()) {
    type = std::string(it->value());
  }
  if (type == "DryRun") return sendEmpty(ctx, 204);
  if (type != "RequestResponse" && type != "Event") {
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
  if (type == "Event") return invokeEvent(ctx, *fn, std::move(payload));

  const std::string& name = fn->entry->latest.config->name;
  scheduler::ThrottleReason reason = scheduler::ThrottleReason::None;
  const auto slot = deps_.limiter.tryAcquire(name, &reason);
  if (!slot.acquired) {
    deps_.metrics.function(name)->throttles.fetch_add(1, std::memory_order_relaxed);
    return sendThrottled(ctx, scheduler::throttleReasonName(reason));
  }

  scheduler::InvokeRequest request;
  request.request_id = ctx->request_id;
  request.payload = std::move(payload);
  request.invoked_function_arn = functionArn(regionOf(ctx->req), name, fn->qualifier);
  if (auto it = ctx->req.find("X-Amz-Client-Context"); it != ctx->req.end()) {
    auto decoded = base64Decode(it->value());
    if (!decoded || !json::accept(*decoded)) {
      deps_.limiter.release(name, slot);
      return sendError(ctx, 400, "InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.");
    }
    request.client_context = std::move(*decoded);
  }
  if (auto it = ctx->req.find("X-Amzn-Trace-Id"); it != ctx->req.end()) {
    request.trace_id = std::string(it->value());
  } else {
    request.trace_id = newTraceId();
  }
  bool tail = false;
  if (auto it = ctx->req.find("X-Amz-Log-Type"); it != ctx->req.end()) tail = it->value() == "Tail";
  request.want_log_tail = tail;
  in_flight_.fetch_add(1);
  request.done = [this, ctx, tail, name, slot](scheduler::InvokeResult&& result) {
    deps_.limiter.release(name, slot);
    if (result.throttled) {
      deps_.metrics.function(name)->throttles.fetch_add(1, std::memory_order_relaxed);
      sendThrottled(ctx, "ConcurrentInvocationLimitExceeded",
                    result.throttle_message.empty() ? std::string_view("Rate Exceeded.")
                                                    : std::string_view(result.throttle_message));
    } else {
      http::Response res{bhttp::status::ok, ctx->req.version()};
      res.set(bhttp::field::content_type, "application/json");
      res.set("X-Amz-Executed-Version", result.executed_version);
      if (result.function_error) res.set("X-Amz-Function-Error", "Unhandled");
      if (tail) res.set("X-Amz-Log-Result", base64Encode(result.log_tail));
      res.body() = std::move(result.payload);
      send(ctx, std::move(res));
    }
    in_flight_.fetch_sub(1);
  };
  deps_.engine.invoke(*pickTarget(*fn), std::move(request));
}

Result<async::AsyncTarget> ApiService::asyncTarget(const std::string& function,
                                                   const std::string& qualifier) {
  auto e = entry(function);
  const std::string region = deps_.default_region;
  auto not_found = [&] {
    return makeError(ErrorCode::NotFound,
                     "Function not found: " + functionArn(region, function, qualifier));
  };
  if (!e) return not_found();
  if (!qualifier.empty() && qualifier != "$LATEST" && !isVersionNumber(qualifier) &&
      !e->aliases.count(qualifier)) {
    return not_found();
  }
  if (isVersionNumber(qualifier) && !e->versions.count(std::atoi(qualifier.c_str()))) {
    return not_found();
  }
  async::AsyncTarget target;
  const std::string q = qualifier.empty() ? "$LATEST" : qualifier;
  target.function_arn = functionArn(region, function, q);
  if (auto it = e->event_invoke.find(q); it != e->event_invoke.end()) target.config = it->second;
  target.config.qualifier = q;
  target.dead_letter_arn = e->latest.config->dead_letter_arn;
  if (auto* t = isVersionNumber(q) ? versionTarget(*e, q) : nullptr) {
    target.dead_letter_arn = t->config->dead_letter_arn;
  } else if (auto alias = e->aliases.find(q); alias != e->aliases.end()) {
    if (auto* at = versionTarget(*e, alias->second.function_version)) {
      target.dead_letter_arn = at->config->dead_letter_arn;
    }
  }
  target.reserved_concurrency = e->reserved_concurrency;
  return target;
}

void ApiService::invokeAsyncEvent(const std::string& function, const std::string& qualifier,
                                  std::string payload, std::string request_id,
                                  std::function<void(async::InvokeOutcome)> done) {
  using Kind = async::InvokeOutcome::Kind;
  auto fail = [&](Kind kind, std::string reason) {
    async::InvokeOutcome outcome;
    outcome.kind = kind;
    outcome.reason = std::move(reason);
    done(std::move(outcome));
  };
  Resolved fn;
  fn.entry = entry(function);
  if (!fn.entry) return fail(Kind::NotFound, "Function not found: " + function);
  fn.qualifier = qualifier;
  if (qualifier.empty() || qualifier == "$LATEST" || isVersionNumber(qualifier)) {
    fn.target = versionTarget(*fn.entry, qualifier.empty() ? "$LATEST" : qualifier);
  } else if (auto alias = fn.entry->aliases.find(qualifier); alias != fn.entry->aliases.end()) {
    fn.alias = &alias->second;
    fn.target = versionTarget(*fn.entry, alias->second.function_version);
  }
  if (!fn.target) return fail(Kind::NotFound, "Function not found: " + function + ":" + qualifier);
  scheduler::ThrottleReason reason = scheduler::ThrottleReason::None;
  const auto slot = deps_.limiter.tryAcquire(function, &reason);
  if (!slot.acquired) {
    deps_.metrics.function(function)->throttles.fetch_add(1, std::memory_order_relaxed);
    return fail(Kind::Throttled, std::string(scheduler::throttleReasonName(reason)));
  }
  scheduler::InvokeRequest request;
  request.request_id = std::move(request_id);
  request.payload = std::move(payload);
  request.invoked_function_arn = functionArn(deps_.default_region, function, qualifier);
  request.trace_id = newTraceId();
  in_flight_.fetch_add(1);
  request.done = [this, function, slot, done = std::move(done)](scheduler::InvokeResult&& result) {
    deps_.limiter.release(function, slot);
    async::InvokeOutcome outcome;
    if (result.throttled) {
      deps_.metrics.function(function)->throttles.fetch_add(1, std::memory_order_relaxed);
      outcome.kind = Kind::Throttled;
      outcome.reason = "ConcurrentInvocationLimitExceeded";
    } else {
      outcome.kind = result.function_error ? Kind::FunctionError : Kind::Success;
      outcome.function_error = result.function_error ? "Unhandled" : "";
      outcome.payload = std::move(result.payload);
      outcome.executed_version = std::move(result.executed_version);
    }
    in_flight_.fetch_sub(1);
    done(std::move(outcome));
  };
  deps_.engine.invoke(*pickTarget(fn), std::move(request));
}

void ApiService::createFunction(const std::shared_ptr<Ctx>& ctx) {
  boost::asio::post(deps_.blocking, [this, ctx] {
    auto input = parseCreateFunction(ctx->req.body());
    ctx->req.body().clear();
    if (!input) return sendError(ctx, input.error());
    auto& fn = input->config;
    if (auto st = deps_.catalog.check(fn.runtime); !st) return sendError(ctx, st.error());
    const std::string region = regionOf(ctx->req);
    if (input->layer_arns) {
      if (!deps_.layers) return sendError(ctx, 400, "InvalidParameterValueException", "Layers are not available");
      auto layers = deps_.layers->resolve(*input->layer_arns, region);
      if (!layers) return sendError(ctx, layers.error());
      fn.layers = std::move(*layers);
    }
    std::lock_guard lock(mgmt_mu_);
    if (entry(fn.name)) {
      return sendError(ctx, 409, "ResourceConflictException",
                       "Function already exist: " + fn.name);
    }
    auto stored = deps_.code.put(input->zip_bytes);
    if (!stored) return sendError(ctx, stored.error());
    if (auto st = deps_.layers && !fn.layers.empty()
                      ? deps_.layers->checkUnzippedTotal(stored->unzipped_size, fn.layers)
                      : Status{};
        !st) {
      collectCode(stored->sha256_hex);
      return sendError(ctx, st.error());
    }
    fn.code_sha256 = stored->sha256_b64;
    fn.code_sha256_hex = stored->sha256_hex;
    fn.code_size = stored->zip_size;
    fn.last_modified_ms = SystemClock().epochMillis();
    fn.revision_id = uuid4();
    fn.version = "$LATEST";
    // With Publish, version 1 is written in the same transaction as the function.
    store::FunctionConfig version;
    if (auto st = deps_.registry.createFunction(fn, input->publish ? &version : nullptr); !st) {
      if (st.error().code == ErrorCode::Conflict) {
        return sendError(ctx, 409, "ResourceConflictException", "Function already exist: " + fn.name);
      }
      collectCode(stored->sha256_hex);
      return sendError(ctx, st.error());
    }
    json body = functionConfiguration(input->publish ? version : fn, region);
    if (auto st = refresh(fn.name); !st) return sendError(ctx, st.error());
    spdlog::info("CreateFunction {} runtime={} memory={}MB code={}", fn.name, fn.runtime,
                 fn.memory_mb, fn.code_sha256);
    body["State"] = "Active";
    sendJson(ctx, 201, body);
  });
}

void ApiService::getFunction(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name,
                             bool configuration_only) {
  auto fn = resolve(*ctx, raw_name, true);
  if (!fn) return sendError(ctx, fn.error());
  const std::string region = regionOf(ctx->req);
  const store::FunctionConfig& config = *fn->target->config;
  json configuration = functionConfiguration(config, region);
  // Through an alias, the configuration is the alias's version under the alias's ARN.
  if (fn->alias) configuration["FunctionArn"] = functionArn(region, config.name, fn->alias->name);
  if (configuration_only) return sendJson(ctx, 200, configuration);
  json body;
  body["Configuration"] = std::move(configuration);
  std::string host = "127.0.0.1";
  if (auto it = ctx->req.find(bhttp::field::host); it != ctx->req.end()) host = std::string(it->value());
  std::string location = "http://" + host + "/kindling/v1/functions/" + config.name + "/code";
  if (config.version != "$LATEST") location += "?Qualifier=" + config.version;
  body["Code"] = {{"RepositoryType", "S3"}, {"Location", std::move(location)}};
  const auto& tags = fn->entry->latest.config->tags;
  if (!tags.empty()) body["Tags"] = tags;
  if (fn->entry->reserved_concurrency) {
    body["Concurrency"]["ReservedConcurrentExecutions"] = *fn->entry->reserved_concurrency;
  }
  sendJson(ctx, 200, body);
}

void ApiService::listFunctions(const std::shared_ptr<Ctx>& ctx) {
  const bool all_versions = ctx->queryValue("FunctionVersion") == "ALL";
  std::vector<std::shared_ptr<const store::FunctionConfig>> all;
  {
    std::shared_lock lock(cache_mu_);
    for (const auto& [name, e] : cache_) {
      all.push_back(e->latest.config);
      if (all_versions) {
        for (const auto& [n, t] : e->versions) all.push_back(t.config);
      }
    }
  }
  // Sorted by name, then $LATEST before versions in ascending order; the marker is
  // "<name>:<version>" so pagination works across versions.
  auto key = [](const store::FunctionConfig& c) {
    const int v = c.version == "$LATEST" ? 0 : std::atoi(c.version.c_str());
    return std::make_pair(c.name, v);
  };
  std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return key(*a) < key(*b); });
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
  std::pair<std::string, int> after{"", -1};
  if (!marker.empty()) {
    const size_t colon = marker.rfind(':');
    after = colon == std::string::npos
                ? std::make_pair(marker, all_versions ? 1 << 30 : 0)
                : std::make_pair(marker.substr(0, colon), std::atoi(marker.c_str() + colon + 1));
  }
  const std::string region = regionOf(ctx->req);
  json functions = json::array();
  std::string next_marker;
  for (const auto& fn : all) {
    if (!marker.empty() && !(after < key(*fn))) continue;
    if (static_cast<int>(functions.size()) == max_items) {
      const auto& last = functions.back();
      next_marker = last["FunctionName"].get<std::string>();
      if (all_versions) {
        const std::string v = last["Version"].get<std::string>();
        next_marker += ":" + (v == "$LATEST" ? std::string("0") : v);
      }
      break;
    }
    json c = functionConfiguration(*fn, region);
    for (const char* k : {"State", "LastUpdateStatus"}) c.erase(k);
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
  auto fn = resolve(*ctx, raw_name, true);
  if (!fn) return sendError(ctx, fn.error());
  if (fn->alias) {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.");
  }
  const std::string name = fn->entry->latest.config->name;
  const std::string region = regionOf(ctx->req);
  boost::asio::post(deps_.blocking, [this, ctx, name, qualifier, region] {
    std::lock_guard lock(mgmt_mu_);
    auto e = entry(name);
    if (!e) {
      return sendError(ctx, 404, "ResourceNotFoundException",
                       "Function not found: " + functionArn(region, name, qualifier));
    }
    std::vector<std::string> digests;
    if (!qualifier.empty()) {
      // One published version.
      auto* target = versionTarget(*e, qualifier);
      if (!target) {
        return sendError(ctx, 404, "ResourceNotFoundException",
                         "Function not found: " + functionArn(region, name, qualifier));
      }
      digests.push_back(target->config->code_sha256_hex);
      for (const auto& l : target->config->layers) digests.push_back(l.code_sha256_hex);
      if (auto st = deps_.registry.deleteVersion(name, std::atoi(qualifier.c_str())); !st) {
        if (st.error().code == ErrorCode::Conflict) {
          return sendError(ctx, 409, "ResourceConflictException", st.error().message());
        }
        return sendError(ctx, st.error());
      }
      deps_.engine.removeVersion(name, qualifier);
      (void)refresh(name);
      for (const auto& d : digests) collectCode(d);
      spdlog::info("DeleteFunction {}:{}", name, qualifier);
      return sendEmpty(ctx, 204);
    }
    auto add = [&digests](const store::FunctionConfig& c) {
      digests.push_back(c.code_sha256_hex);
      for (const auto& l : c.layers) digests.push_back(l.code_sha256_hex);
    };
    add(*e->latest.config);
    for (const auto& [n, t] : e->versions) add(*t.config);
    if (auto st = deps_.registry.deleteFunction(name); !st) return sendError(ctx, st.error());
    {
      std::unique_lock cache_lock(cache_mu_);
      cache_.erase(name);
    }
    deps_.engine.removeFunction(name);
    deps_.limiter.removeFunction(name);
    for (const auto& d : digests) collectCode(d);
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
  const auto& config = fn->entry->latest.config;
  if (method == bhttp::verb::get) return sendJson(ctx, 200, json{{"Tags", config->tags}});
  if (method != bhttp::verb::post && method != bhttp::verb::delete_) {
    return sendError(ctx, 405, "ValidationException", "Unsupported method for tags");
  }
  boost::asio::post(deps_.blocking, [this, ctx, name = config->name, method] {
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
    if (auto fresh = refresh(name); !fresh) return sendError(ctx, fresh.error());
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
  auto fn = resolve(*ctx, name, true);
  if (!fn) return sendError(ctx, fn.error());
  auto zip = deps_.code.readZip(fn->target->config->code_sha256_hex);
  if (!zip) return sendError(ctx, zip.error());
  http::Response res{bhttp::status::ok, ctx->req.version()};
  res.set(bhttp::field::content_type, "application/zip");
  res.body() = std::move(*zip);
  send(ctx, std::move(res));
}

}  // namespace kindling::api
