#include "api/routes.h"

namespace kindling::api {

namespace bhttp = boost::beast::http;

namespace {

// Operations of the Lambda API that kindling does not implement, by method + route shape.
std::string unimplementedOperation(bhttp::verb method, const std::vector<std::string>& seg) {
  if (seg.empty()) return {};
  const std::string& api = seg[0];
  const size_t n = seg.size();
  const std::string last = seg.back();
  if (api == "2015-03-31" && n >= 4 && seg[1] == "functions") {
    if (seg[3] == "policy") {
      if (n == 5) return "RemovePermission";
      return method == bhttp::verb::post ? "AddPermission" : "GetPolicy";
    }
    if (last == "url") return "FunctionUrlConfig";
  }
  if (api == "2018-10-31" && n >= 4 && seg[1] == "layers" && last == "policy") {
    return "LayerVersionPermission";
  }
  if (api == "2015-03-31" && n >= 2 && seg[1] == "event-source-mappings") return "EventSourceMappings";
  if (api == "2014-11-13") return "InvokeAsync";
  if (api == "2021-11-15") return "InvokeWithResponseStream";
  if (api == "2020-06-30" || api == "2020-04-22" || api == "2021-10-31") return "CodeSigning/FunctionUrl";
  return {};
}

}  // namespace

Route matchRoute(bhttp::verb method, const std::vector<std::string>& seg) {
  Route r;
  const size_t n = seg.size();
  auto is = [&](Operation op) {
    r.op = op;
    return r;
  };
  using bhttp::verb;
  if (n >= 2 && seg[0] == "2015-03-31" && seg[1] == "functions") {
    if (n == 2) {
      if (method == verb::post) return is(Operation::CreateFunction);
      if (method == verb::get) return is(Operation::ListFunctions);
    } else {
      r.function = seg[2];
      if (n == 3 && method == verb::get) return is(Operation::GetFunction);
      if (n == 3 && method == verb::delete_) return is(Operation::DeleteFunction);
      if (n == 4) {
        const std::string& sub = seg[3];
        if (sub == "invocations" && method == verb::post) return is(Operation::Invoke);
        if (sub == "configuration" && method == verb::get) return is(Operation::GetFunctionConfiguration);
        if (sub == "configuration" && method == verb::put) return is(Operation::UpdateFunctionConfiguration);
        if (sub == "code" && method == verb::put) return is(Operation::UpdateFunctionCode);
        if (sub == "versions" && method == verb::post) return is(Operation::PublishVersion);
        if (sub == "versions" && method == verb::get) return is(Operation::ListVersionsByFunction);
        if (sub == "aliases" && method == verb::post) return is(Operation::CreateAlias);
        if (sub == "aliases" && method == verb::get) return is(Operation::ListAliases);
      }
      if (n == 5 && seg[3] == "aliases") {
        r.alias = seg[4];
        if (method == verb::get) return is(Operation::GetAlias);
        if (method == verb::put) return is(Operation::UpdateAlias);
        if (method == verb::delete_) return is(Operation::DeleteAlias);
      }
    }
  }
  if (n == 4 && seg[1] == "functions" && seg[3] == "concurrency") {
    r.function = seg[2];
    if (seg[0] == "2017-10-31" && method == verb::put) return is(Operation::PutFunctionConcurrency);
    if (seg[0] == "2017-10-31" && method == verb::delete_) return is(Operation::DeleteFunctionConcurrency);
    if (seg[0] == "2019-09-30" && method == verb::get) return is(Operation::GetFunctionConcurrency);
  }
  if (n == 4 && seg[0] == "2019-09-30" && seg[1] == "functions" && seg[3] == "provisioned-concurrency") {
    r.function = seg[2];
    if (method == verb::put) return is(Operation::PutProvisionedConcurrencyConfig);
    if (method == verb::get) return is(Operation::GetProvisionedConcurrencyConfig);
    if (method == verb::delete_) return is(Operation::DeleteProvisionedConcurrencyConfig);
  }
  if (n >= 4 && seg[0] == "2019-09-25" && seg[1] == "functions" && seg[3] == "event-invoke-config") {
    r.function = seg[2];
    if (n == 5 && seg[4] == "list" && method == verb::get) return is(Operation::ListFunctionEventInvokeConfigs);
    if (n == 4 && method == verb::put) return is(Operation::PutFunctionEventInvokeConfig);
    if (n == 4 && method == verb::post) return is(Operation::UpdateFunctionEventInvokeConfig);
    if (n == 4 && method == verb::get) return is(Operation::GetFunctionEventInvokeConfig);
    if (n == 4 && method == verb::delete_) return is(Operation::DeleteFunctionEventInvokeConfig);
  }
  if (n == 2 && seg[0] == "2016-08-19" && seg[1] == "account-settings" && method == verb::get) {
    return is(Operation::GetAccountSettings);
  }
  if (n >= 2 && seg[0] == "2018-10-31" && seg[1] == "layers") {
    if (n == 2 && method == verb::get) return is(Operation::ListLayers);
    if (n >= 4 && seg[3] == "versions") {
      r.layer = seg[2];
      if (n == 4 && method == verb::post) return is(Operation::PublishLayerVersion);
      if (n == 4 && method == verb::get) return is(Operation::ListLayerVersions);
      if (n == 5) {
        r.layer_version = seg[4];
        if (method == verb::get) return is(Operation::GetLayerVersion);
        if (method == verb::delete_) return is(Operation::DeleteLayerVersion);
      }
    }
  }
  if (n >= 3 && seg[0] == "kindling" && seg[1] == "v1" && seg[2] == "queues") {
    if (n == 3 && method == verb::get) return is(Operation::QueueList);
    if (n == 5 && seg[4] == "receive" && method == verb::post) {
      r.queue = seg[3];
      return is(Operation::QueueReceive);
    }
  }
  if (n == 3 && seg[0] == "2017-03-31" && seg[1] == "tags") {
    r.function = seg[2];
    return is(Operation::Tags);
  }
  if (n == 1 && seg[0] == "metrics" && method == bhttp::verb::get) return is(Operation::Metrics);
  if (n >= 3 && seg[0] == "kindling" && seg[1] == "v1" && method == bhttp::verb::get) {
    if (n == 3 && seg[2] == "health") return is(Operation::Health);
    if (n >= 5 && seg[2] == "functions") {
      r.function = seg[3];
      if (n == 5 && seg[4] == "log-streams") return is(Operation::ListLogStreams);
      if (n == 5 && seg[4] == "code") return is(Operation::DownloadCode);
      if (n == 6 && seg[4] == "log-streams") {
        r.stream = seg[5];
        return is(Operation::ReadLogStream);
      }
    }
  }
  r = Route{};
  r.unimplemented = unimplementedOperation(method, seg);
  if (!r.unimplemented.empty()) r.op = Operation::NotImplemented;
  return r;
}

}  // namespace kindling::api
