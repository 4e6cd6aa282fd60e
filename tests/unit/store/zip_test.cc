#include "store/zip.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using testing::buildZip;
using testing::modeOf;
using testing::RawEntry;
using testing::readFile;
using testing::TempDir;
using testing::writeFile;

constexpr uint64_t kBig = 1 << 30;

// A package tree like a provided runtime's: executable bootstrap, nested dirs, symlinks.
void makeSampleTree(const fs::path& dir) {
  writeFile(dir / "bootstrap", "#!/bin/sh\nexec ./handler\n", 0755);
  writeFile(dir / "lib" / "a.txt", "alpha", 0644);
  writeFile(dir / "lib" / "private.txt", "secret", 0600);
  writeFile(dir / "lib" / "deep" / "b.bin", std::string(100000, 'x'), 0644);
  fs::create_directories(dir / "empty");
  fs::create_symlink("lib/a.txt", dir / "link");
  fs::create_symlink("../bootstrap", dir / "lib" / "up");
}

TEST(ZipTest, RoundTripKeepsContentModesAndSymlinks) {
  TempDir tmp;
  makeSampleTree(tmp.path() / "src");
  auto zip = zipDirectory(tmp.path() / "src");
  ASSERT_TRUE(zip) << zip.error().message();

  const fs::path dest = tmp.path() / "out";
  uint64_t unzipped = 0;
  auto st = extractZip(*zip, dest, kBig, &unzipped);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(unzipped, 25u + 5 + 6 + 100000);

  EXPECT_EQ(readFile(dest / "bootstrap"), "#!/bin/sh\nexec ./handler\n");
  EXPECT_EQ(modeOf(dest / "bootstrap") & 07777, 0755u);
  EXPECT_EQ(::access((dest / "bootstrap").c_str(), X_OK), 0);
  EXPECT_EQ(modeOf(dest / "lib" / "a.txt") & 07777, 0644u);
  EXPECT_EQ(modeOf(dest / "lib" / "private.txt") & 07777, 0600u);
  EXPECT_EQ(readFile(dest / "lib" / "deep" / "b.bin"), std::string(100000, 'x'));
  EXPECT_TRUE(fs::is_directory(dest / "empty"));
  ASSERT_TRUE(fs::is_symlink(dest / "link"));
  EXPECT_EQ(fs::read_symlink(dest / "link"), "lib/a.txt");
  EXPECT_EQ(readFile(dest / "link"), "alpha");
  EXPECT_EQ(fs::read_symlink(dest / "lib" / "up"), "../bootstrap");

  auto size = zipUnzippedSize(*zip);
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, unzipped);
}

TEST(ZipTest, ZipDirectoryIsDeterministic) {
  TempDir tmp;
  makeSampleTree(tmp.path() / "src");
  auto a = zipDirectory(tmp.path() / "src");
  auto b = zipDirectory(tmp.path() / "src");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_GT(a->size(), 100u);
  // Deflated: 100000 identical bytes must not be stored raw.
  EXPECT_LT(a->size(), 10000u);
}

TEST(ZipTest, ZipDirectoryOfMissingDirFails) {
  TempDir tmp;
  auto zip = zipDirectory(tmp.path() / "nope");
  ASSERT_FALSE(zip);
  EXPECT_EQ(zip.error().code, ErrorCode::Io);
  EXPECT_EQ(zip.error().sys_errno, ENOENT);
}

TEST(ZipTest, ExtractsZipFromOtherToolsWithoutDirEntries) {
  // Like Python's zipfile output: no directory entries, "lib/" must be created implicitly.
  std::string zip =
      buildZip({{"lib/x/y.txt", AE_IFREG, 0644, "why"}, {"run", AE_IFREG, 0700, "#!"}});
  TempDir tmp;
  ASSERT_TRUE(extractZip(zip, tmp.path() / "out", kBig, nullptr));
  EXPECT_EQ(readFile(tmp.path() / "out" / "lib" / "x" / "y.txt"), "why");
  EXPECT_EQ(modeOf(tmp.path() / "out" / "lib") & 0777, 0755u);
  EXPECT_EQ(modeOf(tmp.path() / "out" / "run") & 0777, 0700u);
}

TEST(ZipTest, StripsSetuidSetgidSticky) {
  std::string zip = buildZip({{"suid", AE_IFREG, 06755, "x"}, {"dir/", AE_IFDIR, 01777, ""}});
  TempDir tmp;
  ASSERT_TRUE(extractZip(zip, tmp.path() / "out", kBig, nullptr));
  EXPECT_EQ(modeOf(tmp.path() / "out" / "suid") & 07777, 0755u);
  EXPECT_EQ(modeOf(tmp.path() / "out" / "dir") & 07777, 0777u);
}

void expectRefused(const std::vector<RawEntry>& entries, ErrorCode code = ErrorCode::InvalidZip) {
  TempDir tmp;
  const fs::path dest = tmp.path() / "a" / "b" / "out";
  std::string zip = buildZip(entries);
  auto st = extractZip(zip, dest, kBig, nullptr);
  ASSERT_FALSE(st) << "extraction of '" << entries.back().name << "' should be refused";
  EXPECT_EQ(st.error().code, code) << st.error().message();
  EXPECT_FALSE(fs::exists(dest)) << "a refused extraction must not leave the destination";
  // Nothing escaped next to or above the destination.
  const auto count = [](const fs::path& dir) {
    return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
  };
  EXPECT_EQ(count(tmp.path() / "a" / "b"), 0);
  EXPECT_EQ(count(tmp.path() / "a"), 1);
  EXPECT_EQ(count(tmp.path()), 1);
}

TEST(ZipTest, RefusesZipSlipPaths) {
  expectRefused({{"ok.txt", AE_IFREG, 0644, "fine"}, {"../evil.txt", AE_IFREG, 0644, "pwned"}});
  expectRefused({{"sub/../../evil.txt", AE_IFREG, 0644, "pwned"}});
  expectRefused({{"sub/../../../evil.txt", AE_IFREG, 0644, "pwned"}});
  expectRefused({{"..", AE_IFDIR, 0755, ""}});
}

TEST(ZipTest, RefusesAbsolutePaths) {
  TempDir victim;
  expectRefused({{(victim.path() / "evil.txt").string(), AE_IFREG, 0644, "pwned"}});
  EXPECT_FALSE(fs::exists(victim.path() / "evil.txt"));
}

TEST(ZipTest, RefusesSymlinksLeavingTheTree) {
  expectRefused({{"link", AE_IFLNK, 0777, "/etc/passwd"}});
  expectRefused({{"link", AE_IFLNK, 0777, ".."}});
  expectRefused({{"link", AE_IFLNK, 0777, "../out-sibling"}});
  expectRefused({{"a/link", AE_IFLNK, 0777, "../../x"}});
  expectRefused({{"a/b/link", AE_IFLNK, 0777, "./../.././../x"}});
  // '..' after a named component: "s" may itself be a symlink to a shallower place.
  expectRefused({{"a/s", AE_IFLNK, 0777, ".."}, {"a/link", AE_IFLNK, 0777, "s/.."}});
  expectRefused({{"link", AE_IFLNK, 0777, ""}});
}

TEST(ZipTest, RefusesWritingThroughASymlink) {
  // The link itself is harmless (points inside), but a later entry must not go through it.
  expectRefused({{"sub/", AE_IFDIR, 0755, ""},
                 {"dir", AE_IFLNK, 0777, "sub"},
                 {"dir/file", AE_IFREG, 0644, "x"}});
  expectRefused({{"sub/", AE_IFDIR, 0755, ""},
                 {"dir", AE_IFLNK, 0777, "sub"},
                 {"dir/deeper/file", AE_IFREG, 0644, "x"}});
}

TEST(ZipTest, AcceptsSymlinksInsideTheTree) {
  std::string zip = buildZip({{"a/b/target", AE_IFREG, 0644, "t"},
                              {"a/b/l1", AE_IFLNK, 0777, "../../a/b/target"},
                              {"a/l2", AE_IFLNK, 0777, "./b/target"},
                              {"l3", AE_IFLNK, 0777, "a/b"}});
  TempDir tmp;
  auto st = extractZip(zip, tmp.path() / "out", kBig, nullptr);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(readFile(tmp.path() / "out" / "a" / "b" / "l1"), "t");
  EXPECT_EQ(readFile(tmp.path() / "out" / "a" / "l2"), "t");
  EXPECT_EQ(readFile(tmp.path() / "out" / "l3" / "target"), "t");
}

TEST(ZipTest, RefusesDeviceAndSocketEntries) {
  for (uint16_t type : {uint16_t{S_IFCHR}, uint16_t{S_IFBLK}, uint16_t{S_IFSOCK}}) {
    std::string zip = buildZip({{"ok", AE_IFREG, 0644, "x"}, {"special", AE_IFREG, 0644, ""}});
    ASSERT_TRUE(testing::patchCentralMode(zip, "special", static_cast<uint16_t>(type | 0644)));
    TempDir tmp;
    auto st = extractZip(zip, tmp.path() / "out", kBig, nullptr);
    ASSERT_FALSE(st) << "type " << std::oct << type;
    EXPECT_EQ(st.error().code, ErrorCode::InvalidZip) << st.error().message();
    EXPECT_FALSE(fs::exists(tmp.path() / "out"));
  }
}

TEST(ZipTest, FifoEntryNeverBecomesAFifo) {
  // libarchive reads a zip "fifo" as a regular file (Info-ZIP records stdin that way), so the
  // entry is harmless; make sure no fifo appears on disk.
  std::string zip = buildZip({{"special", AE_IFREG, 0644, ""}});
  ASSERT_TRUE(testing::patchCentralMode(zip, "special", S_IFIFO | 0644));
  TempDir tmp;
  auto st = extractZip(zip, tmp.path() / "out", kBig, nullptr);
  if (st) {
    EXPECT_TRUE(S_ISREG(modeOf(tmp.path() / "out" / "special")));
  } else {
    EXPECT_EQ(st.error().code, ErrorCode::InvalidZip);
  }
}

TEST(ZipTest, BrokenArchiveIsInvalidZipWithAwsText) {
  std::string noise(5000, '\0');
  uint32_t x = 12345;
  for (char& c : noise) {  // incompressible, so deflate stores it and a flipped byte survives
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  std::string good = buildZip({{"a.txt", AE_IFREG, 0644, noise}});
  {
    TempDir tmp;  // the intact archive is fine, so the failures below come from the damage
    ASSERT_TRUE(extractZip(good, tmp.path() / "out", kBig, nullptr));
    EXPECT_EQ(readFile(tmp.path() / "out" / "a.txt"), noise);
  }
  std::string truncated = good.substr(0, good.size() / 2);
  std::string garbage = "this is definitely not a zip file, just some text";
  std::string corrupted = good;
  corrupted[2000] ^= 0x5a;  // inside the data of the only entry: CRC mismatch
  const std::string empty;
  for (const std::string* input :
       std::initializer_list<const std::string*>{&empty, &garbage, &truncated, &corrupted}) {
    const std::string& bytes = *input;
    TempDir tmp;
    auto st = extractZip(bytes, tmp.path() / "out", kBig, nullptr);
    ASSERT_FALSE(st) << "input of " << bytes.size() << " bytes";
    EXPECT_EQ(st.error().code, ErrorCode::InvalidZip);
    EXPECT_EQ(st.error().context,
              "Could not unzip uploaded file. Please check your file, then try to upload again.");
    EXPECT_FALSE(fs::exists(tmp.path() / "out"));
    auto size = zipUnzippedSize(bytes);
    if (input != &corrupted) {
      // Header-only scan cannot see damaged compressed data, the rest must fail.
      EXPECT_FALSE(size);
    }
  }
}

TEST(ZipTest, TarIsNotAZip) {
  TempDir tmp;
  writeFile(tmp.path() / "src" / "f", "data");
  std::string tar;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open(a, &tar, nullptr, testing::appendCallback, nullptr), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "f");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 4);
  ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
  archive_write_data(a, "data", 4);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  auto st = extractZip(tar, tmp.path() / "out", kBig, nullptr);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::InvalidZip);
}

TEST(ZipTest, EnforcesUnzippedSizeLimit) {
  std::string zip = buildZip({{"a", AE_IFREG, 0644, std::string(600, 'a')},
                              {"b", AE_IFREG, 0644, std::string(600, 'b')}});
  {
    TempDir tmp;
    auto st = extractZip(zip, tmp.path() / "out", 1000, nullptr);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::InvalidArgument);
    EXPECT_EQ(st.error().context, "Unzipped size must be smaller than 1000 bytes");
    EXPECT_FALSE(fs::exists(tmp.path() / "out"));
  }
  {
    TempDir tmp;
    uint64_t total = 0;
    ASSERT_TRUE(extractZip(zip, tmp.path() / "out", 1200, &total));
    EXPECT_EQ(total, 1200u);
  }
}

TEST(ZipTest, UnzippedLimitIsEnforcedWhileInflating) {
  // A bomb: 4 MB of zeros deflate to a few KB, and the central directory lies that the
  // entry is empty, so only the streamed byte count can stop it.
  std::string zip = buildZip({{"bomb", AE_IFREG, 0644, std::string(4 << 20, '\0')}});
  EXPECT_LT(zip.size(), 100000u);
  ASSERT_TRUE(testing::patchCentralU32(zip, "bomb", 24, 0));  // uncompressed size
  ASSERT_TRUE(testing::patchLocalU32(zip, "bomb", 22, 0));
  auto declared = zipUnzippedSize(zip);
  ASSERT_TRUE(declared) << declared.error().message();
  ASSERT_EQ(*declared, 0u) << "the patched header should claim an empty file";
  TempDir tmp;
  // Below libarchive's first inflated block, so the limit trips before any byte is written.
  auto st = extractZip(zip, tmp.path() / "out", 100000, nullptr);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::InvalidArgument) << st.error().message();
  EXPECT_EQ(st.error().context, "Unzipped size must be smaller than 100000 bytes");
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));
}

TEST(ZipTest, DestinationMustNotExist) {
  TempDir tmp;
  std::string zip = buildZip({{"a", AE_IFREG, 0644, "x"}});
  fs::create_directories(tmp.path() / "out");
  writeFile(tmp.path() / "out" / "keep", "mine");
  auto st = extractZip(zip, tmp.path() / "out", kBig, nullptr);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().sys_errno, EEXIST);
  EXPECT_EQ(readFile(tmp.path() / "out" / "keep"), "mine");
}

TEST(ZipTest, DestinationBehindASymlinkedParentWorks) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "real");
  fs::create_directory_symlink(tmp.path() / "real", tmp.path() / "alias");
  std::string zip = buildZip({{"d/a", AE_IFREG, 0644, "x"}});
  auto st = extractZip(zip, tmp.path() / "alias" / "out", kBig, nullptr);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(readFile(tmp.path() / "real" / "out" / "d" / "a"), "x");
}


TEST(ZipTest, NonAsciiNamesSurviveARoundTrip) {
  TempDir tmp;
  // "déjà/файл.txt"
  const std::string name = "d\xc3\xa9j\xc3\xa0/\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.txt";
  writeFile(tmp.path() / "src" / name, "utf8");
  auto zip = zipDirectory(tmp.path() / "src");
  ASSERT_TRUE(zip) << zip.error().message();
  auto st = extractZip(*zip, tmp.path() / "out", kBig, nullptr);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(readFile(tmp.path() / "out" / name), "utf8");
}

TEST(ZipTest, ReadsUtf8NamesWrittenByOtherTools) {
  // Hand-assembled like Python's zipfile writes it: one stored entry "café.txt" = "x" with the
  // UTF-8 name flag (0x0800) set, made by unix, mode 0644.
  const std::string name = "caf\xc3\xa9.txt";
  const auto le16 = [](std::string& s, uint16_t v) {
    s.push_back(static_cast<char>(v & 0xff));
    s.push_back(static_cast<char>(v >> 8));
  };
  const auto le32 = [&](std::string& s, uint32_t v) {
    le16(s, static_cast<uint16_t>(v & 0xffff));
    le16(s, static_cast<uint16_t>(v >> 16));
  };
  const uint32_t crc = 0x8cdc1683;  // crc32("x")
  const auto name_len = static_cast<uint16_t>(name.size());
  std::string out;
  // Local file header.
  le32(out, 0x04034b50);
  for (uint16_t v : {20, 0x0800, 0, 0, 0x21}) le16(out, v);  // version, flags, method, time, date
  for (uint32_t v : {crc, 1u, 1u}) le32(out, v);
  for (uint16_t v : {name_len, uint16_t{0}}) le16(out, v);
  out += name;
  out += "x";
  // Central directory record.
  const auto cd_offset = static_cast<uint32_t>(out.size());
  le32(out, 0x02014b50);
  for (uint16_t v : {0x0314, 20, 0x0800, 0, 0, 0x21}) le16(out, v);
  for (uint32_t v : {crc, 1u, 1u}) le32(out, v);
  for (uint16_t v : {name_len, uint16_t{0}, uint16_t{0}, uint16_t{0}, uint16_t{0}}) le16(out, v);
  for (uint32_t v : {0100644u << 16, 0u}) le32(out, v);  // external attributes, local offset
  out += name;
  // End of central directory.
  const auto cd_size = static_cast<uint32_t>(out.size()) - cd_offset;
  le32(out, 0x06054b50);
  for (uint16_t v : {0, 0, 1, 1}) le16(out, v);
  for (uint32_t v : {cd_size, cd_offset}) le32(out, v);
  le16(out, 0);
  TempDir tmp;
  auto st = extractZip(out, tmp.path() / "out", kBig, nullptr);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(readFile(tmp.path() / "out" / name), "x");
}

}  // namespace
}  // namespace kindling::store
