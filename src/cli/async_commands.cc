#include "cli/async_commands.h"

#include <iomanip>
#include <ostream>

#include <nlohmann/json.hpp>

#include "cli/wire.h"

namespace kindling::cli {

namespace {

using nlohmann::json;

bool isSuccess(const HttpResponse& res) { return res.result_int() / 100 == 2; }

int reportApiError(const HttpResponse& res, std::ostream& err) {
  err << renderApiError(parseApiError(res)) << "\n";
  return kExitFailure;
}

}  // namespace

int runInvokeAsync(HttpClient& client, const InvokeOptions& opts, Console console) {
  auto payload = loadPayload(opts.payload);
  if (!payload) {
    console.err << "error: " << payload.error().message() << "\n";
    return kExitFailure;
  }
  const HttpClient::Headers headers = {{"X-Amz-Invocation-Type", opts.invocation_type}};
  auto res = client.request(HttpVerb::post, invokeTarget(opts.name, opts.qualifier),
                            std::move(*payload), headers);
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  if (opts.invocation_type == "DryRun") {
    console.out << "dry run ok (" << res->result_int() << ")\n";
    return kExitOk;
  }
  std::string request_id;
  if (auto it = res->find("x-amzn-RequestId"); it != res->end()) request_id = it->value();
  console.out << "queued " << request_id << " (" << res->result_int() << ")\n";
  return kExitOk;
}

std::string buildQueueReceiveBody(const QueueOptions& opts) {
  return json{{"MaxNumberOfMessages", opts.max_messages},
              {"VisibilityTimeout", opts.visibility_timeout_s},
              {"Delete", opts.delete_received}}
      .dump();
}

int runQueue(HttpClient& client, const QueueOptions& opts, Console console) {
  if (opts.action == QueueOptions::Action::Receive) {
    auto res = client.request(HttpVerb::post,
                              "/kindling/v1/queues/" + urlEncode(opts.name) + "/receive",
                              buildQueueReceiveBody(opts), {{"Content-Type", "application/json"}});
    if (!res) return reportTransportError(client, res.error(), console.err);
    if (!isSuccess(*res)) return reportApiError(*res, console.err);
    json body = json::parse(res->body(), nullptr, false);
    if (body.is_discarded() || !body.contains("Messages")) {
      console.err << "error: unexpected answer from the daemon: " << res->body() << "\n";
      return kExitFailure;
    }
    console.out << body["Messages"].dump(2) << "\n";
    return kExitOk;
  }
  auto res = client.request(HttpVerb::get, "/kindling/v1/queues");
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  json body = json::parse(res->body(), nullptr, false);
  if (body.is_discarded() || !body["Queues"].is_array()) {
    console.err << "error: unexpected answer from the daemon: " << res->body() << "\n";
    return kExitFailure;
  }
  console.out << std::left << std::setw(40) << "QUEUE" << std::right << std::setw(10)
              << "VISIBLE" << std::setw(10) << "IN-FLIGHT" << "\n";
  for (const auto& q : body["Queues"]) {
    console.out << std::left << std::setw(40) << q.value("QueueName", "") << std::right
                << std::setw(10) << q.value("ApproximateNumberOfMessages", 0) << std::setw(10)
                << q.value("ApproximateNumberOfMessagesNotVisible", 0) << "\n";
  }
  return kExitOk;
}

}  // namespace kindling::cli
