#include "api/routes.h"

namespace kindling::api {

namespace bhttp = boost::beast::http;

namespace {

// Operations of the Lambda API that kindling does not implement yet, by method + route shape.
std::string unimplementedOperation(bhttp::verb method, const std::vector<std::string>& seg) {
  if (seg.empty()) return {};
  const std::string& api = seg[0];
  const size_t n = seg.size();
  const std::string last = seg.back();
  if (api == "2015-03-31" && n == 4 && seg[1] == "functions") {
    if (last == "code" && method == bhttp::verb::put) return "UpdateFunctionCode";
    if (last == "configuration" && method == bhttp::verb::put) return "UpdateFunctionConfiguration";
    if (last == "versions") return method == bhttp::verb::post ? "PublishVersion" : "ListVersionsByFunction";
    if (last == "aliases") return method == bhttp::verb::post ? "CreateAlias" : "ListAliases";
    if (last == "policy") return method == bhttp::verb::post ? "AddPermission" : "GetPolicy";
    if (last == "url") return "FunctionUrlConfig";
  }
  if (api == "2015-03-31" && n == 5 && seg[1] == "functions" && seg[3] == "aliases") return "Alias";
  if (api == "2015-03-31" && n == 5 && seg[1] == "functions" && seg[3] == "policy") return "RemovePermission";
  if ((api == "2017-10-31" || api == "2019-09-30") && n >= 4 && last == "concurrency") return "FunctionConcurrency";
  if (api == "2019-09-30" && n >= 4 && last == "provisioned-concurrency") return "ProvisionedConcurrencyConfig";
  if (api == "2019-09-25" && n >= 4 && last == "event-invoke-config") return "FunctionEventInvokeConfig";
  if (api == "2016-08-19" && n == 2 && last == "account-settings") return "GetAccountSettings";
  if (api == "2018-10-31" && n >= 2 && seg[1] == "layers") return "Layers";
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
  if (n >= 2 && seg[0] == "2015-03-31" && seg[1] == "functions") {
    if (n == 2) {
      if (method == bhttp::verb::post) return is(Operation::CreateFunction);
      if (method == bhttp::verb::get) return is(Operation::ListFunctions);
    } else {
      r.function = seg[2];
      if (n == 3 && method == bhttp::verb::get) return is(Operation::GetFunction);
      if (n == 3 && method == bhttp::verb::delete_) return is(Operation::DeleteFunction);
      if (n == 4 && seg[3] == "invocations" && method == bhttp::verb::post) {
        return is(Operation::Invoke);
      }
      if (n == 4 && seg[3] == "configuration" && method == bhttp::verb::get) {
        return is(Operation::GetFunctionConfiguration);
      }
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
