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
  Tags,                      // GET|POST|DELETE /2017-03-31/tags/{arn}
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
  std::string unimplemented;  // the operation's name, for NotImplemented
};

Route matchRoute(boost::beast::http::verb method, const std::vector<std::string>& segments);

}  // namespace kindling::api
