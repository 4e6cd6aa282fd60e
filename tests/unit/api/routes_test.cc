#include "api/routes.h"

#include <gtest/gtest.h>

namespace kindling::api {
namespace {

using boost::beast::http::verb;
using Segs = std::vector<std::string>;

TEST(Routes, FunctionOperations) {
  EXPECT_EQ(matchRoute(verb::post, Segs{"2015-03-31", "functions"}).op, Operation::CreateFunction);
  EXPECT_EQ(matchRoute(verb::get, Segs{"2015-03-31", "functions"}).op, Operation::ListFunctions);
  auto get = matchRoute(verb::get, Segs{"2015-03-31", "functions", "f1"});
  EXPECT_EQ(get.op, Operation::GetFunction);
  EXPECT_EQ(get.function, "f1");
  EXPECT_EQ(matchRoute(verb::delete_, Segs{"2015-03-31", "functions", "f1"}).op,
            Operation::DeleteFunction);
  auto conf = matchRoute(verb::get, Segs{"2015-03-31", "functions", "f1", "configuration"});
  EXPECT_EQ(conf.op, Operation::GetFunctionConfiguration);
  EXPECT_EQ(conf.function, "f1");
}

TEST(Routes, InvokeKeepsTheDecodedArn) {
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:f1:$LATEST";
  auto r = matchRoute(verb::post, Segs{"2015-03-31", "functions", arn, "invocations"});
  EXPECT_EQ(r.op, Operation::Invoke);
  EXPECT_EQ(r.function, arn);
  // GET on the invocations path is not an operation.
  EXPECT_EQ(matchRoute(verb::get, Segs{"2015-03-31", "functions", "f", "invocations"}).op,
            Operation::Unknown);
}

TEST(Routes, TagsAndKindlingEndpoints) {
  auto tags = matchRoute(verb::post, Segs{"2017-03-31", "tags", "arn:x"});
  EXPECT_EQ(tags.op, Operation::Tags);
  EXPECT_EQ(tags.function, "arn:x");
  EXPECT_EQ(matchRoute(verb::get, Segs{"metrics"}).op, Operation::Metrics);
  EXPECT_EQ(matchRoute(verb::post, Segs{"metrics"}).op, Operation::Unknown);
  EXPECT_EQ(matchRoute(verb::get, Segs{"kindling", "v1", "health"}).op, Operation::Health);
  EXPECT_EQ(matchRoute(verb::get, Segs{"kindling", "v1", "functions", "f", "log-streams"}).op,
            Operation::ListLogStreams);
  auto read = matchRoute(verb::get, Segs{"kindling", "v1", "functions", "f", "log-streams",
                                         "2026/11/26/[$LATEST]abc"});
  EXPECT_EQ(read.op, Operation::ReadLogStream);
  EXPECT_EQ(read.function, "f");
  EXPECT_EQ(read.stream, "2026/11/26/[$LATEST]abc");
  EXPECT_EQ(matchRoute(verb::get, Segs{"kindling", "v1", "functions", "f", "code"}).op,
            Operation::DownloadCode);
}

TEST(Routes, ControlPlaneOperations) {
  struct Case {
    verb method;
    Segs segs;
    Operation op;
  };
  const Case cases[] = {
      {verb::put, {"2015-03-31", "functions", "f", "code"}, Operation::UpdateFunctionCode},
      {verb::put, {"2015-03-31", "functions", "f", "configuration"}, Operation::UpdateFunctionConfiguration},
      {verb::post, {"2015-03-31", "functions", "f", "versions"}, Operation::PublishVersion},
      {verb::get, {"2015-03-31", "functions", "f", "versions"}, Operation::ListVersionsByFunction},
      {verb::post, {"2015-03-31", "functions", "f", "aliases"}, Operation::CreateAlias},
      {verb::get, {"2015-03-31", "functions", "f", "aliases"}, Operation::ListAliases},
      {verb::get, {"2015-03-31", "functions", "f", "aliases", "live"}, Operation::GetAlias},
      {verb::put, {"2015-03-31", "functions", "f", "aliases", "live"}, Operation::UpdateAlias},
      {verb::delete_, {"2015-03-31", "functions", "f", "aliases", "live"}, Operation::DeleteAlias},
      {verb::put, {"2017-10-31", "functions", "f", "concurrency"}, Operation::PutFunctionConcurrency},
      {verb::get, {"2019-09-30", "functions", "f", "concurrency"}, Operation::GetFunctionConcurrency},
      {verb::delete_, {"2017-10-31", "functions", "f", "concurrency"}, Operation::DeleteFunctionConcurrency},
      {verb::put, {"2019-09-30", "functions", "f", "provisioned-concurrency"}, Operation::PutProvisionedConcurrencyConfig},
      {verb::get, {"2019-09-30", "functions", "f", "provisioned-concurrency"}, Operation::GetProvisionedConcurrencyConfig},
      {verb::delete_, {"2019-09-30", "functions", "f", "provisioned-concurrency"}, Operation::DeleteProvisionedConcurrencyConfig},
      {verb::put, {"2019-09-25", "functions", "f", "event-invoke-config"}, Operation::PutFunctionEventInvokeConfig},
      {verb::post, {"2019-09-25", "functions", "f", "event-invoke-config"}, Operation::UpdateFunctionEventInvokeConfig},
      {verb::get, {"2019-09-25", "functions", "f", "event-invoke-config"}, Operation::GetFunctionEventInvokeConfig},
      {verb::delete_, {"2019-09-25", "functions", "f", "event-invoke-config"}, Operation::DeleteFunctionEventInvokeConfig},
      {verb::get, {"2019-09-25", "functions", "f", "event-invoke-config", "list"}, Operation::ListFunctionEventInvokeConfigs},
      {verb::get, {"2016-08-19", "account-settings"}, Operation::GetAccountSettings},
      {verb::post, {"2018-10-31", "layers", "l", "versions"}, Operation::PublishLayerVersion},
      {verb::get, {"2018-10-31", "layers", "l", "versions"}, Operation::ListLayerVersions},
      {verb::get, {"2018-10-31", "layers", "l", "versions", "3"}, Operation::GetLayerVersion},
      {verb::delete_, {"2018-10-31", "layers", "l", "versions", "3"}, Operation::DeleteLayerVersion},
      {verb::get, {"2018-10-31", "layers"}, Operation::ListLayers},
      {verb::post, {"kindling", "v1", "queues", "q", "receive"}, Operation::QueueReceive},
      {verb::get, {"kindling", "v1", "queues"}, Operation::QueueList},
  };
  for (const auto& c : cases) {
    const Route r = matchRoute(c.method, c.segs);
    EXPECT_EQ(r.op, c.op) << c.segs.back();
  }
  const Route alias = matchRoute(verb::get, Segs{"2015-03-31", "functions", "f", "aliases", "live"});
  EXPECT_EQ(alias.function, "f");
  EXPECT_EQ(alias.alias, "live");
  const Route layer = matchRoute(verb::get, Segs{"2018-10-31", "layers", "l", "versions", "3"});
  EXPECT_EQ(layer.layer, "l");
  EXPECT_EQ(layer.layer_version, "3");
  EXPECT_EQ(matchRoute(verb::post, Segs{"kindling", "v1", "queues", "q", "receive"}).queue, "q");
  // Wrong methods are not operations.
  EXPECT_EQ(matchRoute(verb::post, Segs{"2019-09-30", "functions", "f", "concurrency"}).op,
            Operation::Unknown);
}

TEST(Routes, UnimplementedOperationsAreNamed) {
  EXPECT_EQ(matchRoute(verb::post, Segs{"2015-03-31", "functions", "f", "policy"}).unimplemented,
            "AddPermission");
  EXPECT_EQ(matchRoute(verb::get, Segs{"2015-03-31", "functions", "f", "policy"}).op,
            Operation::NotImplemented);
  EXPECT_EQ(matchRoute(verb::get, Segs{"2015-03-31", "event-source-mappings"}).unimplemented,
            "EventSourceMappings");
  auto unknown = matchRoute(verb::get, Segs{"no", "such", "route"});
  EXPECT_EQ(unknown.op, Operation::Unknown);
  EXPECT_TRUE(unknown.unimplemented.empty());
  EXPECT_EQ(matchRoute(verb::get, Segs{}).op, Operation::Unknown);
}

}  // namespace
}  // namespace kindling::api
