#include "observe/report.h"

#include <cmath>
#include <regex>

#include <gtest/gtest.h>

namespace kindling::observe {
namespace {

TEST(ReportTest, StartAndEndLines) {
  EXPECT_EQ(formatStartLine("4ce9340a-b765-490f-ad8a-02ab3415e2bf", "$LATEST"),
            "START RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf Version: $LATEST\n");
  EXPECT_EQ(formatStartLine("abc", "7"), "START RequestId: abc Version: 7\n");
  EXPECT_EQ(formatEndLine("4ce9340a-b765-490f-ad8a-02ab3415e2bf"),
            "END RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\n");
}

TEST(ReportTest, ReportLineWithoutInitDuration) {
  ReportLine r{"50aba555-xmpl-4b21-8358-644ee996a05f", 12.96, 128, 48, std::nullopt, std::nullopt, 0};
  EXPECT_EQ(formatReportLine(r),
            "REPORT RequestId: 50aba555-xmpl-4b21-8358-644ee996a05f\tDuration: 12.96 ms\t"
            "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\t\n");
}

TEST(ReportTest, ReportLineWithInitDurationBillsInit) {
  ReportLine r{"50aba555-xmpl-4b21-8358-644ee996a05f", 12.96, 128, 48, 117.86, std::nullopt, 0};
  // 12.96 + 117.86 = 130.82 -> 131 ms billed.
  EXPECT_EQ(formatReportLine(r),
            "REPORT RequestId: 50aba555-xmpl-4b21-8358-644ee996a05f\tDuration: 12.96 ms\t"
            "Billed Duration: 131 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\t"
            "Init Duration: 117.86 ms\t\n");
}

TEST(ReportTest, ReportLineRoundsToTwoDecimals) {
  ReportLine r{"id", 1.005, 10240, 10240, 0.004, std::nullopt, 0};
  const std::string line = formatReportLine(r);
  EXPECT_NE(line.find("\tDuration: 1.00 ms\t"), std::string::npos) << line;  // 1.005 is 1.00499..
  EXPECT_NE(line.find("\tBilled Duration: 2 ms\t"), std::string::npos) << line;
  EXPECT_NE(line.find("\tInit Duration: 0.00 ms\t\n"), std::string::npos) << line;
  EXPECT_NE(line.find("\tMemory Size: 10240 MB\tMax Memory Used: 10240 MB\t"), std::string::npos);
}

TEST(ReportTest, BilledDurationRounding) {
  EXPECT_EQ(billedDurationMs(12.01, std::nullopt), 13);
  EXPECT_EQ(billedDurationMs(12.0, std::nullopt), 12);
  EXPECT_EQ(billedDurationMs(12.96, std::nullopt), 13);
  EXPECT_EQ(billedDurationMs(0.0, std::nullopt), 0);
  EXPECT_EQ(billedDurationMs(0.001, std::nullopt), 1);
  // With init: ceil(duration + init).
  EXPECT_EQ(billedDurationMs(1049.63, 1293.83), 2344);
  EXPECT_EQ(billedDurationMs(12.0, 100.0), 112);
  EXPECT_EQ(billedDurationMs(12.01, 100.0), 113);
  // Floating-point noise from adding does not bill an extra millisecond: 0.1 + 0.2 != 0.3.
  EXPECT_EQ(billedDurationMs(0.1 + 0.2 + 11.7, std::nullopt), 12);
  EXPECT_EQ(billedDurationMs(12.0001, std::nullopt), 13);     // 100 ns is a started ms
  EXPECT_EQ(billedDurationMs(12.0000001, std::nullopt), 12);  // 0.1 ns is below ns resolution
  // Garbage in: never negative.
  EXPECT_EQ(billedDurationMs(-5.0, std::nullopt), 0);
  EXPECT_EQ(billedDurationMs(std::nan(""), -1.0), 0);
}

TEST(ReportTest, TimeoutLine) {
  // 2018-05-17T06:46:28.161Z
  EXPECT_EQ(formatTimeoutLine(1526539588161, "fb63a8b6-599d-11e8-a437-911ac44bc0b4", 3),
            "2018-05-17T06:46:28.161Z fb63a8b6-599d-11e8-a437-911ac44bc0b4 "
            "Task timed out after 3.00 seconds\n");
  EXPECT_EQ(formatTimeoutLine(0, "x", 900),
            "1970-01-01T00:00:00.000Z x Task timed out after 900.00 seconds\n");
}

TEST(ReportTest, LogStreamNameShape) {
  // 2026-11-26T23:59:59.999Z
  const int64_t t = 1795737599999;
  const std::string a = makeLogStreamName(t, "$LATEST");
  const std::string b = makeLogStreamName(t, "$LATEST");
  EXPECT_TRUE(std::regex_match(a, std::regex(R"(2026/11/26/\[\$LATEST\][0-9a-f]{32})"))) << a;
  EXPECT_NE(a, b);  // random suffix
  const std::string v = makeLogStreamName(t + 1, "12");
  EXPECT_TRUE(std::regex_match(v, std::regex(R"(2026/11/27/\[12\][0-9a-f]{32})"))) << v;
}

TEST(ReportTest, ParsesItsOwnReportLineBack) {
  ReportLine r;
  r.request_id = "8f5a6cc3-2f1d-4c1e-9a51-0c0f2e4a6b7d";
  r.duration_ms = 12.96;
  r.memory_size_mb = 128;
  r.max_memory_used_mb = 48;
  r.init_duration_ms = 117.86;
  auto parsed = parseReportLine(formatReportLine(r));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_DOUBLE_EQ(parsed->duration_ms, 12.96);
  EXPECT_DOUBLE_EQ(parsed->billed_duration_ms, 131);  // ceil(12.96 + 117.86)
  EXPECT_EQ(parsed->memory_size_mb, 128);
  EXPECT_EQ(parsed->max_memory_used_mb, 48);
  ASSERT_TRUE(parsed->init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*parsed->init_duration_ms, 117.86);
  EXPECT_FALSE(parsed->restore_duration_ms.has_value());

  r.init_duration_ms.reset();
  parsed = parseReportLine(formatReportLine(r));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(parsed->billed_duration_ms, 13);
}

TEST(ReportTest, ParsesAwsSnapStartReport) {
  // An AWS SnapStart REPORT (Restore Duration, no Init Duration), fields in AWS's order.
  auto parsed = parseReportLine(
      "REPORT RequestId: abc\tDuration: 4.50 ms\tBilled Duration: 200 ms\tMemory Size: 512 MB\t"
      "Max Memory Used: 80 MB\tRestore Duration: 190.12 ms\tBilled Restore Duration: 195 ms\t\n");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_DOUBLE_EQ(parsed->duration_ms, 4.5);
  EXPECT_EQ(parsed->memory_size_mb, 512);
  ASSERT_TRUE(parsed->restore_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*parsed->restore_duration_ms, 190.12);
  EXPECT_FALSE(parsed->init_duration_ms.has_value());
}

TEST(ReportTest, FormatsSnapStartRestoreInsteadOfInit) {
  ReportLine r;
  r.request_id = "id";
  r.duration_ms = 4.5;
  r.memory_size_mb = 512;
  r.max_memory_used_mb = 80;
  r.init_duration_ms = 999.0;  // ignored when a restore is reported
  r.restore_duration_ms = 190.12;
  r.billed_restore_ms = 190.12;
  const std::string line = formatReportLine(r);
  // Billed Duration covers the invoke only; the restore is billed in its own field.
  EXPECT_EQ(line,
            "REPORT RequestId: id\tDuration: 4.50 ms\tBilled Duration: 5 ms\tMemory Size: 512 MB\t"
            "Max Memory Used: 80 MB\tRestore Duration: 190.12 ms\tBilled Restore Duration: 191 "
            "ms\t\n");
  auto parsed = parseReportLine(line);
  ASSERT_TRUE(parsed.has_value());
  ASSERT_TRUE(parsed->restore_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(*parsed->restore_duration_ms, 190.12);
  EXPECT_FALSE(parsed->init_duration_ms.has_value());
  EXPECT_DOUBLE_EQ(parsed->billed_duration_ms, 5);
}

TEST(ReportTest, RejectsWhatIsNotAReport) {
  EXPECT_FALSE(parseReportLine("").has_value());
  EXPECT_FALSE(parseReportLine("START RequestId: x Version: $LATEST").has_value());
  EXPECT_FALSE(parseReportLine("REPORT RequestId: x\tDuration: 1.00 ms\t").has_value());
  EXPECT_FALSE(
      parseReportLine("REPORT RequestId: x\tDuration: fast\tBilled Duration: 1 ms").has_value());
  EXPECT_FALSE(
      parseReportLine("REPORT RequestId: x\tDuration: 1 s\tBilled Duration: 1 ms").has_value());
}

}  // namespace
}  // namespace kindling::observe
