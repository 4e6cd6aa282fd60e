#include "observe/log_stream.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"

namespace kindling::observe {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LogStreamTest, AppendsAreVisibleImmediately) {
  fakes::TempDir dir;
  auto s = LogStream::create(dir.path() / "s", 1024);
  ASSERT_TRUE(s) << s.error().message();
  (*s)->append("START RequestId: a Version: $LATEST\n");
  EXPECT_EQ(slurp(dir.path() / "s"), "START RequestId: a Version: $LATEST\n");  // no buffering
  (*s)->append("");
  (*s)->append("hello\n");
  EXPECT_EQ(slurp(dir.path() / "s"), "START RequestId: a Version: $LATEST\nhello\n");
  EXPECT_EQ((*s)->size(), 42u);
  EXPECT_EQ((*s)->path(), dir.path() / "s");
}

TEST(LogStreamTest, CapDropsLaterWritesAndWritesMarkerOnce) {
  fakes::TempDir dir;
  const auto file = dir.path() / "s";
  auto s = LogStream::create(file, 20);
  ASSERT_TRUE(s);
  const std::string marker = LogStream::makeCapMarker(20);
  EXPECT_EQ(marker,
            "[kindling] log stream reached its cap of 20 bytes; further output is dropped\n");
  (*s)->append("0123456789\n");  // 11 bytes
  (*s)->append("abcdefgh\n");    // 20 bytes: exactly at the cap, still written whole
  EXPECT_EQ(slurp(file), "0123456789\nabcdefgh\n");
  (*s)->append("dropped\n");  // crosses the cap: nothing fits, marker
  (*s)->append("dropped too\n");
  (*s)->append("x");
  EXPECT_EQ(slurp(file), "0123456789\nabcdefgh\n" + marker);
  EXPECT_EQ((*s)->size(), 20 + marker.size());
}

TEST(LogStreamTest, CrossingAppendKeepsWhatFitsAndPutsMarkerOnItsOwnLine) {
  fakes::TempDir dir;
  const auto file = dir.path() / "s";
  auto s = LogStream::create(file, 10);
  ASSERT_TRUE(s);
  const std::string marker = LogStream::makeCapMarker(10);
  (*s)->append("abc\n");              // 4
  (*s)->append("defghijklmnop\n");    // crosses at 10: keeps "defgh" + '\n'
  (*s)->append("more\n");
  EXPECT_EQ(slurp(file), "abc\ndefgh\n" + marker);
  EXPECT_EQ((*s)->size(), 10 + marker.size());

  // A crossing append whose kept part ends in a newline is kept whole.
  auto t = LogStream::create(dir.path() / "t", 6);
  ASSERT_TRUE(t);
  (*t)->append("abcde\nXYZ\n");
  EXPECT_EQ(slurp(dir.path() / "t"), "abcde\n" + LogStream::makeCapMarker(6));
}

TEST(LogStreamTest, ReopenCountsExistingBytesTowardsTheCap) {
  fakes::TempDir dir;
  const auto file = dir.path() / "s";
  {
    auto s = LogStream::create(file, 16);
    ASSERT_TRUE(s);
    (*s)->append("0123456789\n");
  }
  auto s = LogStream::create(file, 16);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->size(), 11u);
  (*s)->append("abcdefghij\n");
  EXPECT_EQ(slurp(file), "0123456789\nabcd\n" + LogStream::makeCapMarker(16));
}

TEST(LogStreamTest, ConcurrentAppendsRespectTheCapAndWriteOneMarker) {
  fakes::TempDir dir;
  const auto file = dir.path() / "s";
  constexpr uint64_t kCap = 64 * 1024;
  auto s = LogStream::create(file, kCap);
  ASSERT_TRUE(s);
  LogStream* stream = s->get();
  const std::string line(99, 'x');
  const std::string full = line + "\n";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) stream->append(full);  // 4 * 500 * 100 = 200 KB offered
    });
  }
  for (auto& th : threads) th.join();
  const std::string content = slurp(file);
  const std::string marker = LogStream::makeCapMarker(kCap);
  EXPECT_LE(content.size(), kCap + marker.size());
  EXPECT_EQ(content.size(), stream->size());
  size_t markers = 0;
  for (size_t pos = 0; (pos = content.find("[kindling]", pos)) != std::string::npos; ++pos) {
    ++markers;
  }
  EXPECT_EQ(markers, 1u);
  EXPECT_EQ(content.substr(content.size() - marker.size()), marker);
  // Every whole line before the marker is intact (O_APPEND writes do not interleave).
  std::istringstream lines(content.substr(0, content.size() - marker.size()));
  std::string l;
  size_t whole = 0;
  while (std::getline(lines, l)) {
    if (l.size() == line.size()) {
      EXPECT_EQ(l, line);
      ++whole;
    }
  }
  EXPECT_GE(whole, kCap / full.size() - 1);
}

TEST(LogStreamTest, CreateFailsForMissingDirectory) {
  fakes::TempDir dir;
  auto s = LogStream::create(dir.path() / "nope" / "s", 10);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().sys_errno, ENOENT);
}

}  // namespace
}  // namespace kindling::observe
