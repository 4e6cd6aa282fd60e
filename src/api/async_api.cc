// Asynchronous invocation on the API: Invoke with InvocationType Event (queued durably, then
// 202), the FunctionEventInvokeConfig operations (Put replaces, Update merges, Get, Delete,
// List) and kindling's local queue endpoints (receive, list) that let callers read what SQS
// destinations and dead-letter queues received. SQLite work runs on the blocking pool, never on
// the I/O threads.
#include <chrono>
#include <tuple>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "api/api_internal.h"
#include "api/function_name.h"
#include "api/routes.h"
#include "async/async_service.h"
#include "async/destinations.h"
#include "async/queue_store.h"
#include "common/strings.h"

namespace kindling::api {

using detail::jsonBody;
using detail::sendEmpty;
using detail::sendError;
using detail::sendJson;
using nlohmann::json;

namespace {

constexpr int kMinEventAgeSeconds = 60;
constexpr int kDefaultVisibilityTimeoutSeconds = 30;

// AWS's message for a member outside its range (ValidationException).
Error rangeError(const json& value, std::string_view member, bool too_big, int bound) {
  return Error{ErrorCode::Validation, 0,
               fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                           "constraint: Member must have value {} than or equal to {}",
                           value.dump(), member, too_big ? "less" : "greater", bound)};
}

Result<std::optional<int>> intMember(const json& body, const char* key, std::string_view member,
                                     int min, int max) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer()) {
    return makeError(ErrorCode::Validation,
                     fmt::format("1 validation error detected: Value '{}' at '{}' must be an "
                                 "integer",
                                 it->dump(), member));
  }
  const int64_t v = it->get<int64_t>();
  if (v < min) return tl::unexpected(rangeError(*it, member, false, min));
  if (v > max) return tl::unexpected(rangeError(*it, member, true, max));
  return std::optional<int>(static_cast<int>(v));
}

// Checks one destination ARN: a Lambda function or an SQS queue.
Status checkDestination(const std::string& arn, std::string_view which) {
  if (arn.empty()) return {};
  if (arn.size() > 350) {
    return makeError(ErrorCode::Validation,
                     fmt::format("1 validation error detected: Value at "
                                 "'destinationConfig.{}.destination' failed to satisfy "
                                 "constraint: Member must have length less than or equal to 350",
                                 which));
  }
  const async::Destination d = async::parseDestination(arn);
  switch (d.kind) {
    case async::Destination::Kind::Function:
    case async::Destination::Kind::Queue:
      return {};
    case async::Destination::Kind::Topic:
      return makeError(ErrorCode::InvalidArgument,
                       "kindling does not support SNS topic destinations (" + arn +
                           "); use a Lambda function or SQS queue ARN");
    case async::Destination::Kind::EventBus:
      return makeError(ErrorCode::InvalidArgument,
                       "kindling does not support EventBridge event bus destinations (" + arn +
                           "); use a Lambda function or SQS queue ARN");
    case async::Destination::Kind::Bucket:
      return makeError(ErrorCode::InvalidArgument,
                       "kindling does not support S3 bucket destinations (" + arn +
                           "); use a Lambda function or SQS queue ARN");
    case async::Destination::Kind::Invalid:
      break;
  }
  return makeError(ErrorCode::InvalidArgument,
                   fmt::format("The provided destination config DestinationConfig({}=({})) is "
                               "invalid: the destination must be a Lambda function or SQS queue "
                               "ARN",
                               which, arn));
}

// The fields a Put/Update request sets; absent ones stay unset (Put) or unchanged (Update).
struct ConfigPatch {
  std::optional<int> max_retry_attempts;
  std::optional<int> max_event_age_s;
  std::optional<std::string> on_success;
  std::optional<std::string> on_failure;
};

Result<ConfigPatch> parsePatch(const json& body) {
  ConfigPatch p;
  auto retries = intMember(body, "MaximumRetryAttempts", "maximumRetryAttempts", 0,
                           async::kDefaultMaxRetryAttempts);
  if (!retries) return tl::unexpected(std::move(retries.error()));
  p.max_retry_attempts = *retries;
  auto age = intMember(body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds",
                       kMinEventAgeSeconds, async::kDefaultMaxEventAgeSeconds);
  if (!age) return tl::unexpected(std::move(age.error()));
  p.max_event_age_s = *age;
  if (auto dc = body.find("DestinationConfig"); dc != body.end() && !dc->is_null()) {
    if (!dc->is_object()) {
      return makeError(ErrorCode::Validation, "DestinationConfig must be an object");
    }
    for (const auto& [key, member, out] :
         {std::tuple{"OnSuccess", "onSuccess", &p.on_success},
          std::tuple{"OnFailure", "onFailure", &p.on_failure}}) {
      auto it = dc->find(key);
      if (it == dc->end() || it->is_null()) continue;
      if (!it->is_object()) {
        return makeError(ErrorCode::Validation, std::string("DestinationConfig.") + key +
                                                    " must be an object");
      }
      std::string arn;
      if (auto d = it->find("Destination"); d != it->end() && !d->is_null()) {
        if (!d->is_string()) {
          return makeError(ErrorCode::Validation,
                           std::string("DestinationConfig.") + key + ".Destination must be a string");
        }
        arn = d->get<std::string>();
      }
      KD_TRY_STATUS(checkDestination(arn, member));
      *out = std::move(arn);
    }
  }
  return p;
}

json configJson(const store::EventInvokeConfig& c, const std::string& function_arn) {
  json j;
  j["LastModified"] = static_cast<double>(c.last_modified_ms) / 1000.0;
  j["FunctionArn"] = function_arn;
  if (c.max_retry_attempts) j["MaximumRetryAttempts"] = *c.max_retry_attempts;
  if (c.max_event_age_s) j["MaximumEventAgeInSeconds"] = *c.max_event_age_s;
  json on_success = json::object();
  json on_failure = json::object();
  if (!c.on_success.empty()) on_success["Destination"] = c.on_success;
  if (!c.on_failure.empty()) on_failure["Destination"] = c.on_failure;
  j["DestinationConfig"] = json{{"OnSuccess", std::move(on_success)},
                                {"OnFailure", std::move(on_failure)}};
  return j;
}

std::string missingConfigMessage(const std::string& function_arn) {
  return "The function " + function_arn + " doesn't have an EventInvokeConfig";
}

int64_t epochMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void ApiService::invokeEvent(const std::shared_ptr<Ctx>& ctx, const Resolved& fn,
                             std::string payload) {
  if (deps_.async == nullptr) {
    return sendError(ctx, 500, "ServiceException",
                     "asynchronous invocation is not enabled in this kindling daemon");
  }
  if (payload.size() > async::kMaxEventPayloadBytes) {
    return sendError(ctx, 413, "RequestEntityTooLargeException",
                     fmt::format("{} byte payload is too large for the Event invocation type "
                                 "(limit {} bytes)",
                                 payload.size(), async::kMaxEventPayloadBytes));
  }
  std::string name = fn.entry->latest.config->name;
  std::string qualifier = fn.qualifier == "$LATEST" ? std::string() : fn.qualifier;
  // The 202 goes out only once the event is committed.
  boost::asio::post(deps_.blocking, [this, ctx, name = std::move(name),
                                     qualifier = std::move(qualifier),
                                     payload = std::move(payload)] {
    if (auto st = deps_.async->enqueue(name, qualifier, payload, ctx->request_id); !st) {
      return sendError(ctx, st.error());
    }
    sendEmpty(ctx, 202);
  });
}

void ApiService::eventInvokeConfig(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  const bool list = route.op == Operation::ListFunctionEventInvokeConfigs;
  auto fn = resolve(*ctx, route.function, /*allow_qualifier=*/!list);
  if (!fn) return sendError(ctx, fn.error());
  const std::string name = fn->entry->latest.config->name;
  const std::string region = regionOf(ctx->req);

  if (list) {
    int max_items = 50;
    if (const std::string m = ctx->queryValue("MaxItems"); !m.empty()) {
      max_items = std::atoi(m.c_str());
      if (max_items < 1 || max_items > 50) {
        return sendError(ctx, 400, "ValidationException",
                         "1 validation error detected: Value '" + m +
                             "' at 'maxItems' failed to satisfy constraint: Member must have "
                             "value between 1 and 50");
      }
    }
    const std::string marker = ctx->queryValue("Marker");
    json items = json::array();
    std::string next;
    for (const auto& [qualifier, config] : fn->entry->event_invoke) {
      if (!marker.empty() && qualifier < marker) continue;
      if (static_cast<int>(items.size()) == max_items) {
        next = qualifier;
        break;
      }
      items.push_back(configJson(config, functionArn(region, name, qualifier)));
    }
    json out{{"FunctionEventInvokeConfigs", std::move(items)}};
    if (!next.empty()) out["NextMarker"] = next;
    return sendJson(ctx, 200, out);
  }

  const std::string qualifier = fn->qualifier.empty() ? "$LATEST" : fn->qualifier;
  const std::string arn = functionArn(region, name, qualifier);
  switch (route.op) {
    case Operation::GetFunctionEventInvokeConfig: {
      auto it = fn->entry->event_invoke.find(qualifier);
      if (it == fn->entry->event_invoke.end()) {
        return sendError(ctx, 404, "ResourceNotFoundException", missingConfigMessage(arn));
      }
      return sendJson(ctx, 200, configJson(it->second, arn));
    }
    case Operation::PutFunctionEventInvokeConfig:
    case Operation::UpdateFunctionEventInvokeConfig: {
      auto body = jsonBody(ctx);
      if (!body) return;
      auto patch = parsePatch(*body);
      if (!patch) return sendError(ctx, patch.error());
      const bool merge = route.op == Operation::UpdateFunctionEventInvokeConfig;
      boost::asio::post(deps_.blocking, [this, ctx, name, qualifier, arn, merge,
                                         patch = std::move(*patch)] {
        std::lock_guard lock(mgmt_mu_);
        auto current = entry(name);
        if (!current) {
          return sendError(ctx, 404, "ResourceNotFoundException", "Function not found: " + arn);
        }
        store::EventInvokeConfig config;
        if (merge) {
          // Update merges into the existing config; there must be one.
          auto it = current->event_invoke.find(qualifier);
          if (it == current->event_invoke.end()) {
            return sendError(ctx, 404, "ResourceNotFoundException", missingConfigMessage(arn));
          }
          config = it->second;
          if (patch.max_retry_attempts) config.max_retry_attempts = patch.max_retry_attempts;
          if (patch.max_event_age_s) config.max_event_age_s = patch.max_event_age_s;
          if (patch.on_success) config.on_success = *patch.on_success;
          if (patch.on_failure) config.on_failure = *patch.on_failure;
        } else {
          config.max_retry_attempts = patch.max_retry_attempts;
          config.max_event_age_s = patch.max_event_age_s;
          config.on_success = patch.on_success.value_or(std::string());
          config.on_failure = patch.on_failure.value_or(std::string());
        }
        config.qualifier = qualifier;
        config.last_modified_ms = epochMillisNow();
        if (auto st = deps_.registry.putEventInvokeConfig(name, config); !st) {
          return sendError(ctx, st.error());
        }
        if (auto st = refresh(name); !st) return sendError(ctx, st.error());
        sendJson(ctx, 200, configJson(config, arn));
      });
      return;
    }
    case Operation::DeleteFunctionEventInvokeConfig: {
      if (!fn->entry->event_invoke.count(qualifier)) {
        return sendError(ctx, 404, "ResourceNotFoundException", missingConfigMessage(arn));
      }
      boost::asio::post(deps_.blocking, [this, ctx, name, qualifier, arn] {
        std::lock_guard lock(mgmt_mu_);
        if (auto st = deps_.registry.deleteEventInvokeConfig(name, qualifier); !st) {
          if (st.error().code == ErrorCode::NotFound) {
            return sendError(ctx, 404, "ResourceNotFoundException", missingConfigMessage(arn));
          }
          return sendError(ctx, st.error());
        }
        if (auto st = refresh(name); !st) return sendError(ctx, st.error());
        sendEmpty(ctx, 204);
      });
      return;
    }
    default:
      return sendError(ctx, 500, "ServiceException", "unexpected event-invoke-config route");
  }
}

void ApiService::queueOperation(const std::shared_ptr<Ctx>& ctx, const Route& route) {
  if (deps_.async == nullptr) {
    return sendError(ctx, 500, "ServiceException",
                     "asynchronous invocation is not enabled in this kindling daemon");
  }
  const std::string region = regionOf(ctx->req);
  if (route.op == Operation::QueueList) {
    boost::asio::post(deps_.blocking, [this, ctx, region] {
      auto queues = deps_.async->queues().list();
      if (!queues) return sendError(ctx, queues.error());
      json items = json::array();
      for (const auto& q : *queues) {
        items.push_back(json{{"QueueName", q.name},
                             {"QueueArn", async::sqsQueueArn(region, q.name)},
                             {"ApproximateNumberOfMessages", q.visible},
                             {"ApproximateNumberOfMessagesNotVisible", q.in_flight}});
      }
      sendJson(ctx, 200, json{{"Queues", std::move(items)}});
    });
    return;
  }
  // QueueReceive: {queue} is a queue name or its ARN.
  std::string queue = route.queue;
  if (startsWith(queue, "arn:")) {
    auto parsed = async::sqsQueueName(queue);
    if (!parsed) {
      return sendError(ctx, 400, "InvalidParameterValueException",
                       "not an SQS queue ARN: " + queue);
    }
    queue = std::move(*parsed);
  } else if (!async::isValidQueueName(queue)) {
    return sendError(ctx, 400, "InvalidParameterValueException",
                     "invalid queue name '" + queue +
                         "' (1-80 characters of letters, digits, '-' and '_')");
  }
  auto body = jsonBody(ctx);
  if (!body) return;
  auto max = intMember(*body, "MaxNumberOfMessages", "maxNumberOfMessages", 1, 10);
  if (!max) return sendError(ctx, max.error());
  auto visibility = intMember(*body, "VisibilityTimeout", "visibilityTimeout", 0, 43200);
  if (!visibility) return sendError(ctx, visibility.error());
  bool remove = false;
  if (auto it = body->find("Delete"); it != body->end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return sendError(ctx, 400, "ValidationException", "Delete must be a boolean");
    }
    remove = it->get<bool>();
  }
  boost::asio::post(deps_.blocking, [this, ctx, queue, max_messages = max->value_or(1),
                                     visibility_s = visibility->value_or(
                                         kDefaultVisibilityTimeoutSeconds),
                                     remove] {
    auto messages = deps_.async->queues().receive(queue, max_messages,
                                                  int64_t{visibility_s} * 1000, remove);
    if (!messages) return sendError(ctx, messages.error());
    json items = json::array();
    for (auto& m : *messages) {
      json attributes = json::parse(m.attributes, nullptr, false);
      if (attributes.is_discarded()) attributes = json::object();
      items.push_back(json{
          {"MessageId", m.message_id},
          {"ReceiptHandle", m.message_id},
          {"Body", std::move(m.body)},
          {"Attributes",
           {{"ApproximateReceiveCount", std::to_string(m.receive_count)},
            {"SentTimestamp", std::to_string(m.sent_ms)}}},
          {"MessageAttributes", std::move(attributes)}});
    }
    sendJson(ctx, 200, json{{"Messages", std::move(items)}});
  });
}

}  // namespace kindling::api
