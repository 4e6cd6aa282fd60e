// Routing of the AWS-compatible API: method + decoded path segments -> the operation and its
// path parameters. Pure, so every route is unit-tested without a server.
#pragma once

#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace kindling::api {

enum class Operation {
  CreateFunction,            // POST   /2015-03-31/functions
  ListFunctions,             // GET    /2015-03-31/functions
  GetFunction,               // GET    /2015-03-31/functions/{name}
  GetFunctionConfiguration,  // GET    /2015-03-31/functions/{name}/configuration
  DeleteFunction,            // DELETE /2015-03-31/functions/{name}
  Invoke,                    // POST   /2015-03-31/functions/{name}/invocations
  UpdateFunctionCode,        // PUT    /2015-03-31/functions/{name}/code
  UpdateFunctionConfiguration,  // PUT /2015-03-31/functions/{name}/configuration
  PublishVersion,            // POST   /2015-03-31/functions/{name}/versions
  ListVersionsByFunction,    // GET    /2015-03-31/functions/{name}/versions
  CreateAlias,               // POST   /2015-03-31/functions/{name}/aliases
  ListAliases,               // GET    /2015-03-31/functions/{name}/aliases
  GetAlias,                  // GET    /2015-03-31/functions/{name}/aliases/{alias}
  UpdateAlias,               // PUT    /2015-03-31/functions/{name}/aliases/{alias}
  DeleteAlias,               // DELETE /2015-03-31/functions/{name}/aliases/{alias}
  PutFunctionConcurrency,    // PUT    /2017-10-31/functions/{name}/concurrency
  GetFunctionConcurrency,    // GET    /2019-09-30/functions/{name}/concurrency
  DeleteFunctionConcurrency,  // DELETE /2017-10-31/functions/{name}/concurrency
  PutProvisionedConcurrencyConfig,     // PUT    /2019-09-30/functions/{name}/provisioned-concurrency
  GetProvisionedConcurrencyConfig,     // GET    (same; ?List=ALL lists them)
  DeleteProvisionedConcurrencyConfig,  // DELETE (same)
  PutFunctionEventInvokeConfig,     // PUT    /2019-09-25/functions/{name}/event-invoke-config
  UpdateFunctionEventInvokeConfig,  // POST   (same)
  GetFunctionEventInvokeConfig,     // GET    (same)
  DeleteFunctionEventInvokeConfig,  // DELETE (same)
  ListFunctionEventInvokeConfigs,   // GET    /2019-09-25/functions/{name}/event-invoke-config/list
  GetAccountSettings,        // GET    /2016-08-19/account-settings
  PublishLayerVersion,       // POST   /2018-10-31/layers/{layer}/versions
  ListLayerVersions,         // GET    /2018-10-31/layers/{layer}/versions
  GetLayerVersion,           // GET    /2018-10-31/layers/{layer}/versions/{n}
  DeleteLayerVersion,        // DELETE /2018-10-31/layers/{layer}/versions/{n}
  ListLayers,                // GET    /2018-10-31/layers (?find=LayerVersion&Arn= : by ARN)
  Tags,                      // GET|POST|DELETE /2017-03-31/tags/{arn}
  QueueReceive,              // POST   /kindling/v1/queues/{queue}/receive
  QueueList,                 // GET    /kindling/v1/queues
  Metrics,                   // GET    /metrics
  Health,                    // GET    /kindling/v1/health
  ListLogStreams,            // GET    /kindling/v1/functions/{name}/log-streams
  ReadLogStream,             // GET    /kindling/v1/functions/{name}/log-streams/{stream}
  DownloadCode,              // GET    /kindling/v1/functions/{name}/code
  NotImplemented,            // a Lambda operation kindling does not implement yet
  Unknown,
};

struct Route {
  Operation op = Operation::Unknown;
  std::string function;       // {name} or {arn}, decoded
  std::string stream;         // {stream}, decoded
  std::string alias;          // {alias}, decoded
  std::string layer;          // {layer}, decoded
  std::string layer_version;  // {n} of a layer version, decoded
  std::string queue;          // {queue}, decoded
  std::string unimplemented;  // the operation's name, for NotImplemented
};

Route matchRoute(boost::beast::http::verb method, const std::vector<std::string>& segments);

}  // namespace kindling::api
