#include "async/destinations.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kindling::async {
namespace {

using nlohmann::json;

TEST(Destinations, ClassifiesArns) {
  auto fn = parseDestination("arn:aws:lambda:us-east-1:000000000000:function:target");
  EXPECT_EQ(fn.kind, Destination::Kind::Function);
  EXPECT_EQ(fn.name, "target");
  EXPECT_EQ(fn.qualifier, "");
  auto fnq = parseDestination("arn:aws:lambda:us-east-1:000000000000:function:target:live");
  EXPECT_EQ(fnq.kind, Destination::Kind::Function);
  EXPECT_EQ(fnq.qualifier, "live");
  EXPECT_EQ(parseDestination("arn:aws:lambda:us-east-1:000000000000:function:t:$LATEST").qualifier,
            "");
  auto q = parseDestination("arn:aws:sqs:us-east-1:000000000000:results");
  EXPECT_EQ(q.kind, Destination::Kind::Queue);
  EXPECT_EQ(q.name, "results");
  EXPECT_EQ(parseDestination("arn:aws:sns:us-east-1:000000000000:topic").kind,
            Destination::Kind::Topic);
  EXPECT_EQ(parseDestination("arn:aws:events:us-east-1:000000000000:event-bus/default").kind,
            Destination::Kind::EventBus);
  EXPECT_EQ(parseDestination("arn:aws:s3:::bucket").kind, Destination::Kind::Bucket);
  EXPECT_EQ(parseDestination("arn:aws:lambda:us-east-1:000000000000:layer:x:1").kind,
            Destination::Kind::Invalid);
  EXPECT_EQ(parseDestination("not-an-arn").kind, Destination::Kind::Invalid);
  EXPECT_EQ(parseDestination("arn:aws:lambda:us-east-1:000000000000:function:bad name").kind,
            Destination::Kind::Invalid);
}

TEST(Destinations, RecordHasLambdasShape) {
  RecordInput in;
  in.request_id = "req-1";
  in.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST";
  in.condition = "RetriesExhausted";
  in.approximate_invoke_count = 3;
  in.request_payload = R"({"a":1})";
  in.ran = true;
  in.status_code = 200;
  in.executed_version = "$LATEST";
  in.function_error = "Unhandled";
  in.response_payload = R"({"errorMessage":"boom","errorType":"Error"})";
  in.timestamp_ms = 1573755365568;  // 2019-11-14T18:16:05.568Z
  json r = json::parse(invocationRecord(in));
  EXPECT_EQ(r["version"], "1.0");
  EXPECT_EQ(r["timestamp"], "2019-11-14T18:16:05.568Z");
  EXPECT_EQ(r["requestContext"]["requestId"], "req-1");
  EXPECT_EQ(r["requestContext"]["functionArn"], in.function_arn);
  EXPECT_EQ(r["requestContext"]["condition"], "RetriesExhausted");
  EXPECT_EQ(r["requestContext"]["approximateInvokeCount"], 3);
  EXPECT_EQ(r["requestPayload"]["a"], 1);
  EXPECT_EQ(r["responseContext"]["statusCode"], 200);
  EXPECT_EQ(r["responseContext"]["executedVersion"], "$LATEST");
  EXPECT_EQ(r["responseContext"]["functionError"], "Unhandled");
  EXPECT_EQ(r["responsePayload"]["errorMessage"], "boom");
}

TEST(Destinations, SuccessRecordOmitsFunctionErrorAndEmbedsNonJsonAsString) {
  RecordInput in;
  in.request_id = "r";
  in.function_arn = "arn";
  in.condition = "Success";
  in.approximate_invoke_count = 1;
  in.request_payload = "{}";
  in.ran = true;
  in.executed_version = "2";
  in.response_payload = "not json \"quoted\"";
  json r = json::parse(invocationRecord(in));
  EXPECT_FALSE(r["responseContext"].contains("functionError"));
  EXPECT_EQ(r["responsePayload"], "not json \"quoted\"");
  EXPECT_EQ(r["responseContext"]["executedVersion"], "2");
}

TEST(Destinations, RecordOfAnEventThatNeverRanHasNoResponse) {
  RecordInput in;
  in.request_id = "r";
  in.function_arn = "arn";
  in.condition = "EventAgeExceeded";
  in.request_payload = "[1]";
  in.ran = false;
  in.status_code = 429;
  json r = json::parse(invocationRecord(in));
  EXPECT_EQ(r["requestContext"]["approximateInvokeCount"], 0);
  EXPECT_EQ(r["responseContext"]["statusCode"], 429);
  EXPECT_FALSE(r.contains("responsePayload"));
  EXPECT_EQ(r["requestPayload"], json::array({1}));
}

TEST(Destinations, DeadLetterAttributes) {
  json a = json::parse(deadLetterAttributes("req", 200, std::string(2000, 'x')));
  EXPECT_EQ(a["RequestID"]["StringValue"], "req");
  EXPECT_EQ(a["ErrorCode"]["StringValue"], "200");
  EXPECT_EQ(a["ErrorMessage"]["StringValue"].get<std::string>().size(), 1024u);
}

}  // namespace
}  // namespace kindling::async
