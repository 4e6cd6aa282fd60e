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

TEST(Routes, UnimplementedOperationsAreNamed) {
  auto publish = matchRoute(verb::post, Segs{"2015-03-31", "functions", "f", "versions"});
  EXPECT_EQ(publish.op, Operation::NotImplemented);
  EXPECT_EQ(publish.unimplemented, "PublishVersion");
  EXPECT_EQ(matchRoute(verb::put, Segs{"2015-03-31", "functions", "f", "code"}).unimplemented,
            "UpdateFunctionCode");
  EXPECT_EQ(matchRoute(verb::put, Segs{"2017-10-31", "functions", "f", "concurrency"}).unimplemented,
            "FunctionConcurrency");
  EXPECT_EQ(matchRoute(verb::get, Segs{"2016-08-19", "account-settings"}).unimplemented,
            "GetAccountSettings");
  auto unknown = matchRoute(verb::get, Segs{"no", "such", "route"});
  EXPECT_EQ(unknown.op, Operation::Unknown);
  EXPECT_TRUE(unknown.unimplemented.empty());
  EXPECT_EQ(matchRoute(verb::get, Segs{}).op, Operation::Unknown);
}

}  // namespace
}  // namespace kindling::api
