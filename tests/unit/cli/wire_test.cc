#include "cli/wire.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace kindling::cli {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

HttpResponse makeResponse(unsigned status, std::string body, const char* error_type = nullptr) {
  HttpResponse res{static_cast<http::status>(status), 11};
  if (error_type != nullptr) res.set("x-amzn-ErrorType", error_type);
  res.body() = std::move(body);
  return res;
}

TEST(Targets, EncodeNamesQualifiersAndStreams) {
  EXPECT_EQ(functionTarget("my-fn_1"), "/2015-03-31/functions/my-fn_1");
  EXPECT_EQ(functionTarget("arn:aws:lambda:us-east-1:000000000000:function:f"),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af");
  EXPECT_EQ(invokeTarget("f", ""), "/2015-03-31/functions/f/invocations");
  EXPECT_EQ(invokeTarget("f", "$LATEST"),
            "/2015-03-31/functions/f/invocations?Qualifier=%24LATEST");
  EXPECT_EQ(listTarget(""), "/2015-03-31/functions");
  EXPECT_EQ(listTarget("a b"), "/2015-03-31/functions?Marker=a%20b");
  EXPECT_EQ(logStreamsTarget("f"), "/kindling/v1/functions/f/log-streams");
  EXPECT_EQ(logStreamTarget("f", "2024/05/01/[$LATEST]abc", 42),
            "/kindling/v1/functions/f/log-streams/2024%2F05%2F01%2F%5B%24LATEST%5Dabc?offset=42");
}

TEST(BuildCreateFunctionBody, AllFieldsAndExactZipBytes) {
  DeployOptions spec;
  spec.name = "fn";
  spec.runtime = "python3.12";
  spec.handler = "app.handler";
  spec.memory_mb = 512;
  spec.timeout_s = 30;
  spec.env = {{"A", "1"}, {"QUOTE", "he said \"hi\"\n"}};
  spec.tags = {{"team", "core"}};
  std::string zip("PK\x03\x04", 4);
  for (int i = 0; i < 1000; ++i) zip.push_back(static_cast<char>(i % 256));  // includes '\0'

  const std::string body = buildCreateFunctionBody(spec, zip);
  const json j = json::parse(body);  // throws (fails the test) if not valid JSON
  EXPECT_EQ(j["FunctionName"], "fn");
  EXPECT_EQ(j["Runtime"], "python3.12");
  EXPECT_EQ(j["Handler"], "app.handler");
  EXPECT_EQ(j["Role"], "arn:aws:iam::000000000000:role/kindling");
  EXPECT_EQ(j["MemorySize"], 512);
  EXPECT_EQ(j["Timeout"], 30);
  EXPECT_EQ(j["Environment"]["Variables"]["A"], "1");
  EXPECT_EQ(j["Environment"]["Variables"]["QUOTE"], "he said \"hi\"\n");
  EXPECT_EQ(j["Tags"]["team"], "core");
  ASSERT_TRUE(j["Code"]["ZipFile"].is_string());
  auto decoded = base64Decode(j["Code"]["ZipFile"].get<std::string>());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, zip);
}

TEST(BuildCreateFunctionBody, OmitsEmptyMapsAndHandlesEveryPaddingLength) {
  DeployOptions spec;
  spec.name = "f";
  spec.runtime = "provided.al2023";
  spec.handler = "echo";
  for (size_t n : {0u, 1u, 2u, 3u, 4u}) {
    const std::string zip(n, 'z');
    const json j = json::parse(buildCreateFunctionBody(spec, zip));
    EXPECT_FALSE(j.contains("Environment"));
    EXPECT_FALSE(j.contains("Tags"));
    EXPECT_EQ(*base64Decode(j["Code"]["ZipFile"].get<std::string>()), zip) << n;
  }
}

TEST(ParseApiError, HeaderTypeWithSuffixAndLowercaseMessage) {
  HttpResponse res = makeResponse(
      409, R"({"Type":"User","message":"Function already exist: f"})",
      "ResourceConflictException:http://internal.amazon.com/coral/com.amazonaws.awslambda/");
  const ApiError e = parseApiError(res);
  EXPECT_EQ(e.type, "ResourceConflictException");
  EXPECT_EQ(e.message, "Function already exist: f");
  EXPECT_EQ(renderApiError(e), "error: ResourceConflictException: Function already exist: f");
}

TEST(ParseApiError, CapitalMessageAndBodyTypeFallbacks) {
  const ApiError not_found = parseApiError(makeResponse(
      404,
      R"({"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:0:function:x"})",
      "ResourceNotFoundException"));
  EXPECT_EQ(not_found.type, "ResourceNotFoundException");
  EXPECT_EQ(not_found.message, "Function not found: arn:aws:lambda:us-east-1:0:function:x");

  const ApiError from_body = parseApiError(
      makeResponse(400, R"({"__type":"com.amazon#ValidationException","message":"bad"})"));
  EXPECT_EQ(from_body.type, "ValidationException");
  EXPECT_EQ(from_body.message, "bad");

  const ApiError raw = parseApiError(makeResponse(502, "Bad Gateway\n"));
  EXPECT_EQ(raw.type, "HTTP 502");
  EXPECT_EQ(raw.message, "Bad Gateway");
  EXPECT_EQ(renderApiError(raw), "error: HTTP 502: Bad Gateway");

  const ApiError empty = parseApiError(makeResponse(500, ""));
  EXPECT_EQ(renderApiError(empty), "error: HTTP 500");

  const ApiError huge = parseApiError(makeResponse(500, std::string(10000, 'x')));
  EXPECT_LT(huge.message.size(), 1000u);
}

TEST(IsRuntimeRejection, OnlyRuntimeComplaints) {
  EXPECT_TRUE(isRuntimeRejection(
      {"InvalidParameterValueException",
       "Value python3.12 at 'runtime' failed to satisfy constraint: Member must satisfy enum"}));
  EXPECT_TRUE(isRuntimeRejection(
      {"InvalidParameterValueException",
       "The runtime parameter of python3.9 is no longer supported for creating functions."}));
  EXPECT_TRUE(isRuntimeRejection({"InvalidRuntimeException", "nope"}));
  EXPECT_FALSE(isRuntimeRejection({"InvalidParameterValueException", "MemorySize too big"}));
  EXPECT_FALSE(isRuntimeRejection({"ServiceException", "runtime exploded"}));
}

constexpr std::string_view kTail =
    "START RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf Version: $LATEST\n"
    "hello from the handler\n"
    "REPORT RequestId: fake in the middle of a line is not a report\n"
    "END RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\n"
    "REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\tDuration: 12.96 ms\t"
    "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\t"
    "Init Duration: 117.86 ms\t\n";

TEST(LogResult, DecodesAndFindsTheLastReportLine) {
  const std::string header = base64Encode(kTail);
  auto decoded = decodeLogResult(header);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, kTail);
  const std::string_view report = findReportLine(*decoded);
  EXPECT_EQ(report,
            "REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\tDuration: 12.96 ms\t"
            "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\t"
            "Init Duration: 117.86 ms");
  EXPECT_EQ(formatReportLine(report, false),
            "REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf  Duration: 12.96 ms  "
            "Billed Duration: 13 ms  Memory Size: 128 MB  Max Memory Used: 48 MB  "
            "Init Duration: 117.86 ms");
  EXPECT_EQ(formatReportLine(report, true),
            "Duration: 12.96 ms  Billed Duration: 13 ms  Memory Size: 128 MB  "
            "Max Memory Used: 48 MB  Init Duration: 117.86 ms");
}

TEST(LogResult, MalformedOrMissing) {
  EXPECT_FALSE(decodeLogResult("not base64!"));
  EXPECT_EQ(findReportLine("START RequestId: x\nEND RequestId: x\n"), "");
  // A tail cut in the middle of the first line (last 4 KB) still finds a complete REPORT.
  EXPECT_EQ(findReportLine("REPORT RequestId: a\tDuration: 1 ms"),
            "REPORT RequestId: a\tDuration: 1 ms");
  EXPECT_EQ(findReportLine("x\r\nREPORT RequestId: b\tDuration: 2 ms\t\r\n"),
            "REPORT RequestId: b\tDuration: 2 ms");
  EXPECT_EQ(formatReportLine("REPORT RequestId: c Duration: 3 ms", true), "Duration: 3 ms");
}

TEST(FunctionList, ParsesPagesAndFormatsAnAlignedTable) {
  const std::string body = R"({"Functions":[
      {"FunctionName":"alpha","Runtime":"python3.12","MemorySize":128,"Timeout":3,
       "LastModified":"2024-05-01T10:00:00.000+0000"},
      {"FunctionName":"a-much-longer-name","Runtime":"provided.al2023","MemorySize":1024,
       "Timeout":900,"LastModified":"2024-05-02T11:00:00.000+0000"}],
      "NextMarker":"tok"})";
  auto page = parseFunctionPage(body);
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->next_marker, "tok");
  EXPECT_EQ(page->rows[1].name, "a-much-longer-name");
  EXPECT_EQ(page->rows[1].memory_mb, 1024);
  EXPECT_EQ(page->rows[1].timeout_s, 900);

  const std::string table = formatFunctionTable(page->rows);
  EXPECT_EQ(table,
            "NAME                RUNTIME          MEMORY   TIMEOUT  LAST MODIFIED\n"
            "alpha               python3.12       128 MB   3 s      "
            "2024-05-01T10:00:00.000+0000\n"
            "a-much-longer-name  provided.al2023  1024 MB  900 s    "
            "2024-05-02T11:00:00.000+0000\n");

  auto last = parseFunctionPage(R"({"Functions":[],"NextMarker":null})");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->rows.empty());
  EXPECT_EQ(last->next_marker, "");
  EXPECT_FALSE(parseFunctionPage("<html>"));
  EXPECT_FALSE(parseFunctionPage(R"({"Functions":5})"));
}

TEST(LogStreams, ParsesInOrderAndSkipsNamelessEntries) {
  auto streams = parseLogStreams(R"({"logStreams":[
      {"logStreamName":"2024/05/01/[$LATEST]aaa","storedBytes":120,
       "lastEventTimestamp":1714550000000},
      {"storedBytes":5},
      {"logStreamName":"2024/05/01/[$LATEST]bbb","storedBytes":0}]})");
  ASSERT_TRUE(streams) << streams.error().message();
  ASSERT_EQ(streams->size(), 2u);
  EXPECT_EQ((*streams)[0].name, "2024/05/01/[$LATEST]aaa");
  EXPECT_EQ((*streams)[0].stored_bytes, 120u);
  EXPECT_EQ((*streams)[0].last_event_ms, 1714550000000);
  EXPECT_EQ((*streams)[1].name, "2024/05/01/[$LATEST]bbb");
  EXPECT_FALSE(parseLogStreams(R"({"streams":[]})"));
}

}  // namespace
}  // namespace kindling::cli
