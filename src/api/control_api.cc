// The control-plane operations of ApiService: UpdateFunctionCode/Configuration, versions,
// aliases, reserved and provisioned concurrency, account settings. Each write runs on the
// blocking pool under mgmt_mu_: validate against the cache, write the registry (one SQLite
// transaction per operation, so a crash never leaves half of one), then refresh() the
// function's cache entry, which also re-applies concurrency settings to the limiter/engine.
#include <regex>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "api/api_internal.h"
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
using detail::jsonBody;
using detail::sendEmpty;
using detail::sendError;
using detail::sendJson;
using detail::versionTarget;

namespace {

std::string constraint(std::string_view value, std::string_view field, std::string_view what) {
  return "1 validation error detected: Value '" + std::string(value) + "' at '" +
         std::string(field) + "' failed to satisfy constraint: " + std::string(what);
}

// Operations on unqualified functions only (concurrency, code/configuration updates).
std::optional<FunctionRef> unqualifiedRef(const std::shared_ptr<ApiService::Ctx>& ctx,
                                          const std::string& raw_name) {
  auto ref = parseFunctionRef(raw_name);
  if (!ref) {
    sendError(ctx, ref.error());
    return std::nullopt;
  }
  if (!ref->qualifier.empty()) {
    sendError(ctx, 400, "InvalidParameterValueException",
              "This operation is permitted on Lambda functions only. Aliases and versions do not "
              "support this operation. Please specify either a function name or an unqualified "
              "function ARN.");
    return std::nullopt;
  }
  return std::move(*ref);
}

bool revisionMatches(const std::shared_ptr<ApiService::Ctx>& ctx, const json& body,
                     const std::string& current) {
  auto it = body.find("RevisionId");
  if (it == body.end() || it->is_null()) return true;
  if (it->is_string() && it->get<std::string>() == current) return true;
  sendError(ctx, 412, "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id");
  return false;
}

// A required integer member with a lower bound; on failure sends AWS's ValidationException.
std::optional<int64_t> requiredInt(const std::shared_ptr<ApiService::Ctx>& ctx, const json& body,
                                   const char* key, std::string_view field, int64_t min) {
  auto value = body.find(key);
  if (value == body.end() || !value->is_number_integer()) {
    sendError(ctx, 400, "ValidationException",
              constraint("null", field, "Member must not be null"));
    return std::nullopt;
  }
  const int64_t v = value->get<int64_t>();
  if (v < min) {
    sendError(ctx, 400, "ValidationException",
              constraint(std::to_string(v), field,
                         "Member must have value greater than or equal to " + std::to_string(min)));
    return std::nullopt;
  }
  return v;
}

json aliasJson(const store::Alias& alias, std::string_view region, std::string_view function) {
  json j;
  j["AliasArn"] = functionArn(region, function, alias.name);
  j["Name"] = alias.name;
  j["FunctionVersion"] = alias.function_version;
  j["Description"] = alias.description;
  if (!alias.additional_weights.empty()) {
    j["RoutingConfig"]["AdditionalVersionWeights"] = alias.additional_weights;
  }
  j["RevisionId"] = alias.revision_id;
  return j;
}

std::string isoSeconds(int64_t epoch_ms) {
  // Provisioned concurrency's LastModified: 2019-11-21T19:32:12+0000 (no milliseconds).
  std::string s = isoTimestampAws(epoch_ms);  // 2019-11-21T19:32:12.563+0000
  const size_t dot = s.find('.');
  const size_t plus = s.find('+');
  if (dot != std::string::npos && plus != std::string::npos) s.erase(dot, plus - dot);
  return s;
}

}  // namespace

std::shared_ptr<const ApiService::Entry> ApiService::entryOrNotFound(
    const std::shared_ptr<Ctx>& ctx, const std::string& name, const std::string& region) const {
  auto e = entry(name);
  if (!e) {
    sendError(ctx, 404, "ResourceNotFoundException",
              "Function not found: " + functionArn(region, name));
  }
  return e;
}

void ApiService::updateFunctionCode(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto ref = unqualifiedRef(ctx, raw_name);
  if (!ref) return;
  boost::asio::post(deps_.blocking, [this, ctx, name = ref->name] {
    auto body = jsonBody(ctx);
    ctx->req.body().clear();
    if (!body) return;
    const std::string region = regionOf(ctx->req);
    auto zip = decodeZipFile(*body, "");
    if (!zip) return sendError(ctx, zip.error());
    if (auto arch = body->find("Architectures"); arch != body->end() && arch->is_array() &&
                                                  !arch->empty() && (*arch)[0] != "x86_64") {
      return sendError(ctx, 400, "InvalidParameterValueException",
                       "kindling runs functions on this host's architecture (x86_64); arm64 is not available.");
    }
    const bool publish = body->value("Publish", false);
    const bool dry_run = body->value("DryRun", false);
    std::lock_guard lock(mgmt_mu_);
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (!revisionMatches(ctx, *body, e->latest.config->revision_id)) return;
    store::FunctionConfig fn = *e->latest.config;
    const std::string old_digest = fn.code_sha256_hex;
    auto stored = deps_.code.put(*zip);  // validates the zip (size, paths) and extracts it
    if (!stored) return sendError(ctx, stored.error());
    if (deps_.layers && !fn.layers.empty()) {
      if (auto st = deps_.layers->checkUnzippedTotal(stored->unzipped_size, fn.layers); !st) {
        collectCode(stored->sha256_hex);
        return sendError(ctx, st.error());
      }
    }
    if (dry_run) {
      // Validated only: nothing changes (the package stays only if something uses it).
      fn.code_sha256 = stored->sha256_b64;
      fn.code_size = stored->zip_size;
      collectCode(stored->sha256_hex);
      return sendJson(ctx, 200, functionConfiguration(fn, region));
    }
    fn.code_sha256 = stored->sha256_b64;
    fn.code_sha256_hex = stored->sha256_hex;
    fn.code_size = stored->zip_size;
    fn.last_modified_ms = SystemClock().epochMillis();
    fn.revision_id = uuid4();
    // With Publish, the new version is written in the same transaction as the code.
    store::FunctionConfig version;
    if (auto st = deps_.registry.updateFunction(fn, publish ? &version : nullptr); !st) {
      collectCode(stored->sha256_hex);
      return sendError(ctx, st.error());
    }
    json out = functionConfiguration(publish ? version : fn, region);
    if (auto st = refresh(name); !st) return sendError(ctx, st.error());
    if (old_digest != fn.code_sha256_hex) collectCode(old_digest);
    spdlog::info("UpdateFunctionCode {} code={}", name, fn.code_sha256);
    sendJson(ctx, 200, out);
  });
}

void ApiService::updateFunctionConfiguration(const std::shared_ptr<Ctx>& ctx,
                                             const std::string& raw_name) {
  auto ref = unqualifiedRef(ctx, raw_name);
  if (!ref) return;
  boost::asio::post(deps_.blocking, [this, ctx, name = ref->name] {
    auto body = jsonBody(ctx);
    if (!body) return;
    const std::string region = regionOf(ctx->req);
    std::lock_guard lock(mgmt_mu_);
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (!revisionMatches(ctx, *body, e->latest.config->revision_id)) return;
    store::FunctionConfig fn = *e->latest.config;
    std::optional<std::vector<std::string>> layer_arns;
    if (auto st = applyConfiguration(*body, fn, &layer_arns); !st) return sendError(ctx, st.error());
    if (body->contains("Runtime")) {
      if (auto st = deps_.catalog.check(fn.runtime); !st) return sendError(ctx, st.error());
    }
    if (layer_arns) {
      if (!deps_.layers) return sendError(ctx, 400, "InvalidParameterValueException", "Layers are not available");
      auto layers = deps_.layers->resolve(*layer_arns, region);
      if (!layers) return sendError(ctx, layers.error());
      fn.layers = std::move(*layers);
      if (auto st = checkUnzippedSize(e->latest.code_dir, fn.layers); !st) return sendError(ctx, st.error());
    }
    fn.last_modified_ms = SystemClock().epochMillis();
    fn.revision_id = uuid4();
    if (auto st = deps_.registry.updateFunction(fn); !st) return sendError(ctx, st.error());
    // The next invocation sees a new revision: the engine retires the old environments (they
    // finish what they run) and starts new ones.
    if (auto st = refresh(name); !st) return sendError(ctx, st.error());
    spdlog::info("UpdateFunctionConfiguration {} memory={}MB timeout={}s", name, fn.memory_mb,
                 fn.timeout_s);
    sendJson(ctx, 200, functionConfiguration(fn, region));
  });
}

void ApiService::publishVersion(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto ref = unqualifiedRef(ctx, raw_name);
  if (!ref) return;
  boost::asio::post(deps_.blocking, [this, ctx, name = ref->name] {
    auto body = jsonBody(ctx);
    if (!body) return;
    const std::string region = regionOf(ctx->req);
    std::lock_guard lock(mgmt_mu_);
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (!revisionMatches(ctx, *body, e->latest.config->revision_id)) return;
    if (auto sha = body->find("CodeSha256"); sha != body->end() && sha->is_string() &&
                                              *sha != e->latest.config->code_sha256) {
      return sendError(ctx, 412, "PreconditionFailedException",
                       "CodeSHA256 (" + sha->get<std::string>() +
                           ") is different from current CodeSHA256 in $LATEST (" +
                           e->latest.config->code_sha256 + "). Please try again with the CodeSHA256 in $LATEST.");
    }
    std::string description = body->value("Description", "");
    if (description.size() > 256) {
      return sendError(ctx, 400, "ValidationException",
                       constraint(description, "description", "Member must have length less than or equal to 256"));
    }
    auto version = deps_.registry.publishVersion(name, description, SystemClock().epochMillis());
    if (!version) return sendError(ctx, version.error());
    if (auto st = refresh(name); !st) return sendError(ctx, st.error());
    spdlog::info("PublishVersion {}:{}", name, version->version);
    // Java: the version's own class-data archive is trained in the background (the version is
    // Active at once; its cold starts use the archive once it exists; docs/runtimes.md).
    if (version->runtime.rfind("java", 0) == 0) {
      if (auto fresh = entry(name)) {
        if (const auto* target = versionTarget(*fresh, version->version)) {
          deps_.engine.trainJavaArchive(*target);
        }
      }
    }
    if (store::snapStartOn(*version)) {
      // SnapStart: the snapshot is taken now, as on AWS (with fast start; docs/design.md,
      // "Function snapshots"). AWS answers at once with State Pending; kindling answers once
      // the snapshot is ready (bounded like SnapStart's init), so the version is Active and
      // its first environment already restores. Other management calls wait meanwhile.
      if (auto fresh = entry(name)) {
        if (const auto* target = versionTarget(*fresh, version->version)) {
          const auto wait = std::max<std::chrono::milliseconds>(
              std::chrono::seconds(130), std::chrono::seconds(version->timeout_s));
          const auto started = std::chrono::steady_clock::now();
          if (deps_.engine.prepareSnapshot(*target, wait)) {
            spdlog::info("PublishVersion {}:{}: snapshot ready in {:.1f} ms", name, version->version,
                         std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - started).count());
          }
        }
      }
    }
    sendJson(ctx, 201, functionConfiguration(*version, region));
  });
}

void ApiService::listVersions(const std::shared_ptr<Ctx>& ctx, const std::string& raw_name) {
  auto ref = unqualifiedRef(ctx, raw_name);
  if (!ref) return;
  const std::string region = regionOf(ctx->req);
  auto e = entry(ref->name);
  if (!e) {
    return sendError(ctx, 404, "ResourceNotFoundException",
                     "Function not found: " + functionArn(region, ref->name));
  }
  int max_items = 50;
  if (auto m = ctx->queryValue("MaxItems"); !m.empty()) {
    max_items = std::atoi(m.c_str());
    if (max_items < 1 || max_items > 10000) {
      return sendError(ctx, 400, "ValidationException",
                       constraint(m, "maxItems", "Member must have value between 1 and 10000"));
    }
    max_items = std::min(max_items, 50);
  }
  // Order: $LATEST, then versions ascending. The marker is the last version returned.
  std::vector<const store::FunctionConfig*> all{e->latest.config.get()};
  for (const auto& [n, t] : e->versions) all.push_back(t.config.get());
  const std::string marker = ctx->queryValue("Marker");
  size_t start = 0;
  if (!marker.empty()) {
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i]->version == marker) start = i + 1;
    }
  }
  json versions = json::array();
  std::string next;
  for (size_t i = start; i < all.size(); ++i) {
    if (static_cast<int>(versions.size()) == max_items) {
      next = all[i - 1]->version;
      break;
    }
    json c = functionConfiguration(*all[i], region);
    for (const char* k : {"State", "LastUpdateStatus"}) c.erase(k);
    versions.push_back(std::move(c));
  }
  json out;
  out["Versions"] = std::move(versions);
  if (!next.empty()) out["NextMarker"] = next;
  sendJson(ctx, 200, out);
}

void ApiService::aliasOperation(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  auto ref = unqualifiedRef(ctx, route.function);
  if (!ref) return;
  const std::string region = regionOf(ctx->req);
  const std::string name = ref->name;
  if (route.op == Operation::GetAlias || route.op == Operation::ListAliases) {
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (route.op == Operation::GetAlias) {
      auto it = e->aliases.find(route.alias);
      if (it == e->aliases.end()) {
        return sendError(ctx, 404, "ResourceNotFoundException",
                         "Cannot find alias arn: " + functionArn(region, name, route.alias));
      }
      return sendJson(ctx, 200, aliasJson(it->second, region, name));
    }
    const std::string version = ctx->queryValue("FunctionVersion");
    json aliases = json::array();
    for (const auto& [n, alias] : e->aliases) {
      if (!version.empty() && alias.function_version != version) continue;
      aliases.push_back(aliasJson(alias, region, name));
    }
    return sendJson(ctx, 200, json{{"Aliases", std::move(aliases)}});
  }
  boost::asio::post(deps_.blocking, [this, ctx, route, name, region] {
    std::lock_guard lock(mgmt_mu_);
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (route.op == Operation::DeleteAlias) {
      if (!e->aliases.count(route.alias)) {
        return sendError(ctx, 404, "ResourceNotFoundException",
                         "Alias not found: " + functionArn(region, name, route.alias));
      }
      if (auto st = deps_.registry.deleteAlias(name, route.alias); !st) return sendError(ctx, st.error());
      if (auto st = refresh(name); !st) return sendError(ctx, st.error());
      return sendEmpty(ctx, 204);
    }
    auto body = jsonBody(ctx);
    if (!body) return;
    store::Alias alias;
    const bool creating = route.op == Operation::CreateAlias;
    if (creating) {
      alias.name = body->value("Name", "");
      static const std::regex kAliasName("[a-zA-Z0-9-_]{1,128}");
      if (!std::regex_match(alias.name, kAliasName) || isVersionNumber(alias.name) ||
          alias.name == "$LATEST") {
        return sendError(ctx, 400, "ValidationException",
                         constraint(alias.name, "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"));
      }
      if (e->aliases.count(alias.name)) {
        return sendError(ctx, 409, "ResourceConflictException",
                         "Alias already exists: " + functionArn(region, name, alias.name));
      }
    } else {
      auto it = e->aliases.find(route.alias);
      if (it == e->aliases.end()) {
        return sendError(ctx, 404, "ResourceNotFoundException",
                         "Alias not found: " + functionArn(region, name, route.alias));
      }
      alias = it->second;
      if (!revisionMatches(ctx, *body, alias.revision_id)) return;
    }
    if (auto v = body->find("FunctionVersion"); v != body->end() && v->is_string()) {
      alias.function_version = v->get<std::string>();
    } else if (creating) {
      return sendError(ctx, 400, "ValidationException",
                       constraint("null", "functionVersion", "Member must not be null"));
    }
    if (!versionTarget(*e, alias.function_version)) {
      return sendError(ctx, 404, "ResourceNotFoundException",
                       "Function not found: " + functionArn(region, name, alias.function_version));
    }
    if (auto d = body->find("Description"); d != body->end() && d->is_string()) {
      alias.description = d->get<std::string>();
      if (alias.description.size() > 256) {
        return sendError(ctx, 400, "ValidationException",
                         constraint(alias.description, "description", "Member must have length less than or equal to 256"));
      }
    }
    if (auto rc = body->find("RoutingConfig"); rc != body->end() && rc->is_object()) {
      alias.additional_weights.clear();
      auto weights = rc->find("AdditionalVersionWeights");
      if (weights != rc->end() && weights->is_object()) {
        if (weights->size() > 1) {
          return sendError(ctx, 400, "InvalidParameterValueException",
                           "Number of items in AdditionalVersionWeights cannot be greater than 1");
        }
        for (auto it = weights->begin(); it != weights->end(); ++it) {
          if (!it.value().is_number() || it.value().get<double>() < 0.0 ||
              it.value().get<double>() > 1.0) {
            return sendError(ctx, 400, "ValidationException",
                             constraint(it.value().dump(), "routingConfig.additionalVersionWeights",
                                        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"));
          }
          if (!isVersionNumber(it.key()) || !e->versions.count(std::atoi(it.key().c_str()))) {
            return sendError(ctx, 404, "ResourceNotFoundException",
                             "Function not found: " + functionArn(region, name, it.key()));
          }
          alias.additional_weights[it.key()] = it.value().get<double>();
        }
      }
    }
    if (!alias.additional_weights.empty()) {
      if (alias.function_version == "$LATEST") {
        return sendError(ctx, 400, "InvalidParameterValueException",
                         "$LATEST is not supported for an alias pointing to more than 1 version");
      }
      if (alias.additional_weights.count(alias.function_version)) {
        return sendError(ctx, 400, "InvalidParameterValueException",
                         "Cannot set alias with the same version in AdditionalVersionWeights and FunctionVersion.");
      }
    }
    alias.revision_id = uuid4();
    Status st = creating ? deps_.registry.createAlias(name, alias) : deps_.registry.updateAlias(name, alias);
    if (!st) {
      if (st.error().code == ErrorCode::Conflict) {
        return sendError(ctx, 409, "ResourceConflictException",
                         "Alias already exists: " + functionArn(region, name, alias.name));
      }
      return sendError(ctx, st.error());
    }
    if (auto r = refresh(name); !r) return sendError(ctx, r.error());
    spdlog::info("{} {}:{} -> {}", creating ? "CreateAlias" : "UpdateAlias", name, alias.name,
                 alias.function_version);
    sendJson(ctx, creating ? 201 : 200, aliasJson(alias, region, name));
  });
}

void ApiService::functionConcurrency(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  auto ref = unqualifiedRef(ctx, route.function);
  if (!ref) return;
  const std::string region = regionOf(ctx->req);
  const std::string name = ref->name;
  auto missing = [&] {
    sendError(ctx, 404, "ResourceNotFoundException",
              "Function not found: " + functionArn(region, name, "$LATEST"));
  };
  if (route.op == Operation::GetFunctionConcurrency) {
    auto e = entry(name);
    if (!e) return missing();
    json out = json::object();
    if (e->reserved_concurrency) out["ReservedConcurrentExecutions"] = *e->reserved_concurrency;
    return sendJson(ctx, 200, out);
  }
  boost::asio::post(deps_.blocking, [this, ctx, route, name, region, missing] {
    std::lock_guard lock(mgmt_mu_);
    auto e = entry(name);
    if (!e) return missing();
    if (route.op == Operation::DeleteFunctionConcurrency) {
      if (auto st = deps_.registry.setReservedConcurrency(name, std::nullopt); !st) {
        return sendError(ctx, st.error());
      }
      if (auto st = refresh(name); !st) return sendError(ctx, st.error());
      return sendEmpty(ctx, 204);
    }
    auto body = jsonBody(ctx);
    if (!body) return;
    auto value = requiredInt(ctx, *body, "ReservedConcurrentExecutions",
                             "reservedConcurrentExecutions", 0);
    if (!value) return;
    const int64_t reserved = *value;
    if (auto st = deps_.limiter.checkReservation(name, static_cast<int>(std::min<int64_t>(reserved, 1 << 30)));
        !st) {
      return sendError(ctx, 400, "InvalidParameterValueException", st.error().message());
    }
    int provisioned = 0;
    for (const auto& [q, pc] : e->provisioned) provisioned += pc.requested;
    if (reserved < provisioned) {
      return sendError(ctx, 400, "InvalidParameterValueException",
                       " ReservedConcurrentExecutions  " + std::to_string(reserved) +
                           " should not be lower than function's total provisioned concurrency [" +
                           std::to_string(provisioned) + "].");
    }
    if (auto st = deps_.registry.setReservedConcurrency(name, static_cast<int>(reserved)); !st) {
      return sendError(ctx, st.error());
    }
    if (auto st = refresh(name); !st) return sendError(ctx, st.error());
    spdlog::info("PutFunctionConcurrency {} reserved={}", name, reserved);
    sendJson(ctx, 200, json{{"ReservedConcurrentExecutions", reserved}});
  });
}

void ApiService::provisionedConcurrency(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  auto ref = unqualifiedRef(ctx, route.function);
  if (!ref) return;
  const std::string region = regionOf(ctx->req);
  const std::string name = ref->name;
  auto e = entry(name);
  if (!e) {
    return sendError(ctx, 404, "ResourceNotFoundException",
                     "Function not found: " + functionArn(region, name));
  }
  // The JSON of one config with its live status (from the engine).
  auto describe = [this, region, name](const Entry& en, const store::ProvisionedConfig& pc) {
    std::string version = pc.qualifier;
    if (auto a = en.aliases.find(pc.qualifier); a != en.aliases.end()) version = a->second.function_version;
    const auto status = deps_.engine.provisionedStatus(name, version);
    const int ready = std::min(status.ready, pc.requested);
    json j;
    j["FunctionArn"] = functionArn(region, name, pc.qualifier);
    j["RequestedProvisionedConcurrentExecutions"] = pc.requested;
    j["AllocatedProvisionedConcurrentExecutions"] = ready;
    j["AvailableProvisionedConcurrentExecutions"] = ready;
    if (ready >= pc.requested) {
      j["Status"] = "READY";
    } else if (status.failures >= 3) {
      j["Status"] = "FAILED";
      j["StatusReason"] = "FUNCTION_ERROR_INIT_FAILURE: " + status.last_error;
    } else {
      j["Status"] = "IN_PROGRESS";
    }
    j["LastModified"] = isoSeconds(pc.last_modified_ms);
    return j;
  };
  const std::string qualifier = ctx->queryValue("Qualifier");
  if (route.op == Operation::GetProvisionedConcurrencyConfig && ctx->queryValue("List") == "ALL") {
    json list = json::array();
    for (const auto& [q, pc] : e->provisioned) list.push_back(describe(*e, pc));
    return sendJson(ctx, 200, json{{"ProvisionedConcurrencyConfigs", std::move(list)}});
  }
  if (qualifier.empty()) {
    return sendError(ctx, 400, "ValidationException",
                     constraint("null", "qualifier", "Member must not be null"));
  }
  if (qualifier == "$LATEST") {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "Provisioned Concurrency Configs cannot be applied to unpublished function versions.");
  }
  const bool is_alias = e->aliases.count(qualifier) > 0;
  if (!is_alias && !versionTarget(*e, qualifier)) {
    return sendError(ctx, 404, "ResourceNotFoundException",
                     "Function not found: " + functionArn(region, name, qualifier));
  }
  if (route.op == Operation::GetProvisionedConcurrencyConfig) {
    auto it = e->provisioned.find(qualifier);
    if (it == e->provisioned.end()) {
      return sendError(ctx, 404, "ProvisionedConcurrencyConfigNotFoundException",
                       "No Provisioned Concurrency Config found for this function");
    }
    json j = describe(*e, it->second);
    j.erase("FunctionArn");
    return sendJson(ctx, 200, j);
  }
  boost::asio::post(deps_.blocking, [this, ctx, route, name, region, qualifier, is_alias, describe] {
    std::lock_guard lock(mgmt_mu_);
    auto e = entryOrNotFound(ctx, name, region);
    if (!e) return;
    if (route.op == Operation::DeleteProvisionedConcurrencyConfig) {
      if (!e->provisioned.count(qualifier)) {
        return sendError(ctx, 404, "ProvisionedConcurrencyConfigNotFoundException",
                         "No Provisioned Concurrency Config found for this function");
      }
      if (auto st = deps_.registry.deleteProvisioned(name, qualifier); !st) return sendError(ctx, st.error());
      if (auto st = refresh(name); !st) return sendError(ctx, st.error());
      return sendEmpty(ctx, 204);
    }
    auto body = jsonBody(ctx);
    if (!body) return;
    auto value = requiredInt(ctx, *body, "ProvisionedConcurrentExecutions",
                             "provisionedConcurrentExecutions", 1);
    if (!value) return;
    const int64_t requested = *value;
    // One config per version: an alias and the version it points at cannot both have one.
    const std::string version = is_alias ? e->aliases.at(qualifier).function_version : qualifier;
    for (const auto& [q, pc] : e->provisioned) {
      if (q == qualifier) continue;
      auto a = e->aliases.find(q);
      const std::string other = a != e->aliases.end() ? a->second.function_version : q;
      if (other == version) {
        return sendError(ctx, 409, "ResourceConflictException",
                         is_alias ? "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
                                  : "Version is pointed by a Provisioned Concurrency alias");
      }
    }
    int64_t total = requested;
    for (const auto& [q, pc] : e->provisioned) {
      if (q != qualifier) total += pc.requested;
    }
    const int64_t limit = e->reserved_concurrency
                              ? *e->reserved_concurrency
                              : deps_.limiter.unreservedLimit() - 100;
    if (total > limit) {
      return sendError(ctx, 400, "InvalidParameterValueException",
                       e->reserved_concurrency
                           ? "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
                           : "Requested Provisioned Concurrency exceeds the account's unreserved concurrency");
    }
    store::ProvisionedConfig pc{qualifier, static_cast<int>(requested), SystemClock().epochMillis()};
    if (auto st = deps_.registry.putProvisioned(name, pc); !st) return sendError(ctx, st.error());
    if (auto st = refresh(name); !st) return sendError(ctx, st.error());
    spdlog::info("PutProvisionedConcurrencyConfig {}:{} = {}", name, qualifier, requested);
    auto fresh = entry(name);
    json j = describe(fresh ? *fresh : *e, pc);
    j.erase("FunctionArn");
    sendJson(ctx, 202, j);
  });
}

void ApiService::accountSettings(const std::shared_ptr<Ctx>& ctx) {
  int64_t total_code = 0;
  int64_t count = 0;
  {
    std::shared_lock lock(cache_mu_);
    for (const auto& [name, e] : cache_) {
      ++count;
      total_code += e->latest.config->code_size;
      for (const auto& [n, t] : e->versions) total_code += t.config->code_size;
    }
  }
  json out;
  out["AccountLimit"] = {{"TotalCodeSize", int64_t{80530636800}},
                         {"CodeSizeUnzipped", 262144000},
                         {"CodeSizeZipped", 52428800},
                         {"ConcurrentExecutions", deps_.limiter.accountLimit()},
                         {"UnreservedConcurrentExecutions", deps_.limiter.unreservedLimit()}};
  out["AccountUsage"] = {{"TotalCodeSize", total_code}, {"FunctionCount", count}};
  sendJson(ctx, 200, out);
}

}  // namespace kindling::api
