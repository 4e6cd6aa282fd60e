#include "observe/log_store.h"

#include <chrono>

#include <gtest/gtest.h>

#include "fakes/temp_dir.h"

namespace kindling::observe {
namespace {

namespace fs = std::filesystem;

void setMtime(const fs::path& p, int64_t seconds_from_now) {
  fs::last_write_time(p, fs::file_time_type::clock::now() + std::chrono::seconds(seconds_from_now));
}

TEST(LogStoreTest, LayoutAndListing) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 10);
  auto s = store.openStream("my-fn", "2026/11/26/[$LATEST]0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(s) << s.error().message();
  (*s)->append("START RequestId: r1 Version: $LATEST\n");
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "my-fn" / "2026" / "11" / "26" /
                                  "[$LATEST]0123456789abcdef0123456789abcdef"));
  auto list = store.listStreams("my-fn");
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "2026/11/26/[$LATEST]0123456789abcdef0123456789abcdef");
  EXPECT_EQ((*list)[0].size, 37u);
  EXPECT_GT((*list)[0].mtime_ms, 1'600'000'000'000);

  auto none = store.listStreams("other-fn");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(LogStoreTest, StreamsGetTheStoreCap) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 8, 10);
  auto s = store.openStream("f", "2026/01/01/[$LATEST]a");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->maxBytes(), 8u);
  (*s)->append("0123456\n");
  (*s)->append("dropped\n");
  auto all = store.read("f", "2026/01/01/[$LATEST]a", 0, 1 << 20);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, "0123456\n" + LogStream::makeCapMarker(8));
}

TEST(LogStoreTest, ListIsOldestFirstAndPruningDropsTheOldest) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 2);
  const fs::path fn = dir.path() / "f";
  ASSERT_TRUE(store.openStream("f", "2026/01/01/[$LATEST]a"));
  ASSERT_TRUE(store.openStream("f", "2026/01/02/[$LATEST]b"));
  setMtime(fn / "2026/01/01/[$LATEST]a", -100);  // b is newer than a
  setMtime(fn / "2026/01/02/[$LATEST]b", -50);
  auto list = store.listStreams("f");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "2026/01/01/[$LATEST]a");
  EXPECT_EQ((*list)[1].name, "2026/01/02/[$LATEST]b");
  EXPECT_LT((*list)[0].mtime_ms, (*list)[1].mtime_ms);

  // A third stream: the least recently written one (a) goes, with its empty date directories.
  ASSERT_TRUE(store.openStream("f", "2026/01/03/[$LATEST]c"));
  list = store.listStreams("f");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "2026/01/02/[$LATEST]b");
  EXPECT_EQ((*list)[1].name, "2026/01/03/[$LATEST]c");
  EXPECT_FALSE(fs::exists(fn / "2026/01/01"));
  EXPECT_TRUE(fs::exists(fn / "2026"));

  // The stream just opened is never pruned, even if its mtime looks oldest.
  setMtime(fn / "2026/01/02/[$LATEST]b", 100);
  setMtime(fn / "2026/01/03/[$LATEST]c", 200);
  auto d = store.openStream("f", "2026/01/04/[$LATEST]d");
  ASSERT_TRUE(d);
  list = store.listStreams("f");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);  // d (oldest mtime, but just opened) stays; b goes
  EXPECT_EQ((*list)[0].name, "2026/01/04/[$LATEST]d");
  EXPECT_EQ((*list)[1].name, "2026/01/03/[$LATEST]c");
  setMtime(fn / "2026/01/04/[$LATEST]d", -1000);
  ASSERT_TRUE(store.openStream("f", "2026/01/05/[$LATEST]e"));
  list = store.listStreams("f");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "2026/01/05/[$LATEST]e");  // now
  EXPECT_EQ((*list)[1].name, "2026/01/03/[$LATEST]c");  // +200 s
  // Other functions are untouched by pruning.
  ASSERT_TRUE(store.openStream("g", "2026/01/01/[$LATEST]z"));
  ASSERT_EQ(store.listStreams("f")->size(), 2u);
  ASSERT_EQ(store.listStreams("g")->size(), 1u);
}

TEST(LogStoreTest, RemembersItsDirectoriesButNotBehindItsBack) {
  // openStream remembers the directory it made and how many streams a function has; both must
  // stay right when the tree changes under it or the function is removed.
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 3);
  const fs::path fn = dir.path() / "f";
  ASSERT_TRUE(store.openStream("f", "2026/01/01/[$LATEST]a"));
  fs::remove_all(fn);  // e.g. an operator cleaning up
  auto again = store.openStream("f", "2026/01/01/[$LATEST]b");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(fs::is_regular_file(fn / "2026/01/01/[$LATEST]b"));
  // The limit still holds stream after stream in one directory, and after a removal.
  for (const char* name : {"c", "d", "e", "f", "g"}) {
    ASSERT_TRUE(store.openStream("f", std::string("2026/01/01/[$LATEST]") + name));
    auto list = store.listStreams("f");
    ASSERT_TRUE(list);
    EXPECT_LE(list->size(), 3u) << name;
  }
  ASSERT_TRUE(store.removeFunction("f"));
  ASSERT_TRUE(store.openStream("f", "2026/01/02/[$LATEST]h"));
  auto list = store.listStreams("f");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "2026/01/02/[$LATEST]h");
  // Streams a previous process left are counted on this process's first open.
  LogStore later(dir.path(), 1 << 20, 3);
  for (const char* name : {"i", "j", "k"}) {
    ASSERT_TRUE(later.openStream("f", std::string("2026/01/02/[$LATEST]") + name));
  }
  list = later.listStreams("f");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3u);
}

TEST(LogStoreTest, ReadWithOffsets) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 10);
  const std::string name = "2026/11/26/[$LATEST]s";
  auto s = store.openStream("f", name);
  ASSERT_TRUE(s);
  (*s)->append("0123456789");
  auto r = store.read("f", name, 0, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "0123");
  r = store.read("f", name, 4, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "4567");
  r = store.read("f", name, 8, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "89");
  r = store.read("f", name, 10, 100);  // at the end: empty, a follower polls again
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "");
  r = store.read("f", name, 1000, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "");
  (*s)->append("abc");
  r = store.read("f", name, 10, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "abc");
  r = store.read("f", name, 0, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "");
}

TEST(LogStoreTest, UnknownStreamIsNotFound) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 10);
  ASSERT_TRUE(store.openStream("f", "2026/11/26/[$LATEST]s"));
  auto r = store.read("f", "2026/11/26/[$LATEST]nope", 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  r = store.read("nofn", "2026/11/26/[$LATEST]s", 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  r = store.read("f", "2026/11", 0, 10);  // a directory is not a stream
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  r = store.read("f", "2026/11/26/[$LATEST]s/x", 0, 10);  // ENOTDIR
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
}

TEST(LogStoreTest, PathTraversalIsRefused) {
  fakes::TempDir dir;
  const fs::path root = dir.path() / "logs";
  LogStore store(root, 1 << 20, 10);
  ASSERT_TRUE(store.openStream("f", "2026/11/26/[$LATEST]s"));
  // A secret next to the root that traversal would reach.
  {
    auto secret = LogStream::create(dir.path() / "secret", 100);
    ASSERT_TRUE(secret);
    (*secret)->append("x");
  }

  for (std::string_view bad : {"../secret", "../../secret", "2026/../../secret", "..", "a/..",
                               "/etc/passwd", "2026//11", "2026/./11", ".", "a/", "x\ny",
                               "a\\..\\b", ""}) {
    auto r = store.read("f", bad, 0, 100);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << bad;
    auto o = store.openStream("f", bad);
    ASSERT_FALSE(o) << bad;
    EXPECT_EQ(o.error().code, ErrorCode::InvalidArgument) << bad;
  }
  for (std::string_view bad_fn : {"..", ".", "../logs", "a/b", "", ".hidden", "f\n"}) {
    auto r = store.read(bad_fn, "secret", 0, 100);
    ASSERT_FALSE(r) << bad_fn;
    EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument) << bad_fn;
    EXPECT_FALSE(store.openStream(bad_fn, "s"));
    EXPECT_FALSE(store.listStreams(bad_fn));
    EXPECT_FALSE(store.removeFunction(bad_fn));
  }
  EXPECT_TRUE(fs::exists(dir.path() / "secret"));
  EXPECT_TRUE(fs::exists(root / "f"));
}

TEST(LogStoreTest, SymlinkedStreamIsNotFollowed) {
  fakes::TempDir dir;
  LogStore store(dir.path() / "logs", 1 << 20, 10);
  ASSERT_TRUE(store.openStream("f", "2026/11/26/[$LATEST]s"));
  {
    auto secret = LogStream::create(dir.path() / "secret", 100);
    ASSERT_TRUE(secret);
    (*secret)->append("x");
  }
  fs::create_symlink(dir.path() / "secret", dir.path() / "logs" / "f" / "link");
  auto r = store.read("f", "link", 0, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  auto list = store.listStreams("f");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);  // the symlink is not a stream
}

TEST(LogStoreTest, RemoveFunction) {
  fakes::TempDir dir;
  LogStore store(dir.path(), 1 << 20, 10);
  ASSERT_TRUE(store.openStream("f", "2026/11/26/[$LATEST]a"));
  ASSERT_TRUE(store.openStream("g", "2026/11/26/[$LATEST]b"));
  ASSERT_TRUE(store.removeFunction("f"));
  EXPECT_FALSE(fs::exists(dir.path() / "f"));
  EXPECT_TRUE(store.listStreams("f")->empty());
  EXPECT_EQ(store.listStreams("g")->size(), 1u);
  EXPECT_TRUE(store.removeFunction("f"));  // idempotent
  EXPECT_TRUE(store.removeFunction("never-existed"));
}

}  // namespace
}  // namespace kindling::observe
