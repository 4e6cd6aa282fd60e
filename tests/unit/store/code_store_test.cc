#include "store/code_store.h"

#include <unistd.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/zip.h"
#include "store_test_util.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using testing::buildZip;
using testing::modeOf;
using testing::readFile;
using testing::TempDir;
using testing::writeFile;

// A zip made by Python's zipfile (bootstrap 0755 + lib/data.txt, stored, fixed timestamps).
// Its CodeSha256 was computed with `openssl dgst -sha256 -binary known.zip | base64`.
const std::string kKnownZip(
    "\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x83\x18\x22\x58\x79\xd4\x3f\x17\x15\x00\x00\x00"
    "\x15\x00\x00\x00\x09\x00\x00\x00\x62\x6f\x6f\x74\x73\x74\x72\x61\x70\x23\x21\x2f\x62\x69"
    "\x6e\x2f\x73\x68\x0a\x65\x63\x68\x6f\x20\x68\x65\x6c\x6c\x6f\x0a\x50\x4b\x03\x04\x14\x00"
    "\x00\x00\x00\x00\x83\x18\x22\x58\xd3\xdf\x9f\xb6\x08\x00\x00\x00\x08\x00\x00\x00\x0c\x00"
    "\x00\x00\x6c\x69\x62\x2f\x64\x61\x74\x61\x2e\x74\x78\x74\x6b\x69\x6e\x64\x6c\x69\x6e\x67"
    "\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x83\x18\x22\x58\x79\xd4\x3f\x17\x15\x00"
    "\x00\x00\x15\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xed\x81\x00\x00"
    "\x00\x00\x62\x6f\x6f\x74\x73\x74\x72\x61\x70\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x00"
    "\x00\x83\x18\x22\x58\xd3\xdf\x9f\xb6\x08\x00\x00\x00\x08\x00\x00\x00\x0c\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\xa4\x81\x3c\x00\x00\x00\x6c\x69\x62\x2f\x64\x61\x74\x61\x2e"
    "\x74\x78\x74\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x71\x00\x00\x00\x6e\x00\x00"
    "\x00\x00\x00",
    245);
constexpr const char* kKnownSha256B64 = "VN7og8o/LyJfm/IbHtWfm+lhoB5OWSwfJrHVkmc80VY=";
constexpr const char* kKnownSha256Hex =
    "54dee883ca3f2f225f9bf21b1ed59f9be961a01e4e592c1f26b1d592673cd156";

std::unique_ptr<CodeStore> openStore(const fs::path& root) {
  auto store = CodeStore::open(root);
  EXPECT_TRUE(store) << store.error().message();
  return store ? std::move(*store) : nullptr;
}

std::vector<std::string> listNames(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CodeStoreTest, PutComputesAwsCodeSha256AndStoresBothForms) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto stored = store->put(kKnownZip);
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_EQ(stored->sha256_b64, kKnownSha256B64);
  EXPECT_EQ(stored->sha256_hex, kKnownSha256Hex);
  EXPECT_EQ(stored->zip_size, 245);
  EXPECT_EQ(stored->unzipped_size, 21 + 8);
  EXPECT_EQ(stored->dir, tmp.path() / "code" / kKnownSha256Hex);

  EXPECT_EQ(readFile(stored->dir / "bootstrap"), "#!/bin/sh\necho hello\n");
  EXPECT_EQ(modeOf(stored->dir / "bootstrap") & 0777, 0755u);
  EXPECT_EQ(readFile(stored->dir / "lib" / "data.txt"), "kindling");

  auto zip = store->readZip(kKnownSha256Hex);
  ASSERT_TRUE(zip) << zip.error().message();
  EXPECT_EQ(*zip, kKnownZip);
  auto dir = store->dir(kKnownSha256Hex);
  ASSERT_TRUE(dir) << dir.error().message();
  EXPECT_EQ(*dir, stored->dir);
  // Only the committed package, no temporaries.
  EXPECT_EQ(listNames(tmp.path() / "code"),
            (std::vector<std::string>{kKnownSha256Hex, std::string(kKnownSha256Hex) + ".zip"}));
}

TEST(CodeStoreTest, Sha256DigestOfKnownInputs) {
  auto [b64, hex] = sha256Digest("");
  EXPECT_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(CodeStoreTest, PutIsIdempotent) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto first = store->put(kKnownZip);
  ASSERT_TRUE(first);
  // A marker inside the tree shows the second put does not re-extract.
  writeFile(first->dir / "marker", "m");
  auto second = store->put(kKnownZip);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->sha256_b64, first->sha256_b64);
  EXPECT_EQ(second->unzipped_size, first->unzipped_size);
  EXPECT_EQ(second->zip_size, first->zip_size);
  EXPECT_EQ(second->dir, first->dir);
  EXPECT_TRUE(fs::exists(first->dir / "marker"));
  EXPECT_EQ(listNames(tmp.path() / "code").size(), 2u);
}

TEST(CodeStoreTest, ConcurrentPutsOfOnePackageAllSucceed) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  std::string zip = buildZip({{"f", AE_IFREG, 0644, std::string(200000, 'f')}});
  std::vector<std::thread> threads;
  std::vector<Result<StoredCode>> results(6, makeError(ErrorCode::Internal, "not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = store->put(zip); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->sha256_hex, results[0]->sha256_hex);
    EXPECT_EQ(r->unzipped_size, 200000);
  }
  EXPECT_EQ(listNames(tmp.path() / "code").size(), 2u);
  EXPECT_EQ(readFile(results[0]->dir / "f"), std::string(200000, 'f'));
}

TEST(CodeStoreTest, TooLargeZipIsRequestTooLarge) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  std::string big(CodeStore::kMaxZippedBytes + 1, 'z');
  auto stored = store->put(big);
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, ErrorCode::RequestTooLarge);
  EXPECT_EQ(stored.error().context, "Zipped size must be smaller than 52428800 bytes");
  EXPECT_TRUE(listNames(tmp.path() / "code").empty());
}

TEST(CodeStoreTest, BrokenZipLeavesNothingBehind) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto stored = store->put(kKnownZip.substr(0, 100));
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, ErrorCode::InvalidZip);
  auto slip = store->put(buildZip({{"../../escape", AE_IFREG, 0644, "x"}}));
  ASSERT_FALSE(slip);
  EXPECT_EQ(slip.error().code, ErrorCode::InvalidZip);
  EXPECT_TRUE(listNames(tmp.path() / "code").empty());
  EXPECT_FALSE(fs::exists(tmp.path() / "escape"));
}

TEST(CodeStoreTest, UnknownAndMalformedDigests) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto dir = store->dir(kKnownSha256Hex);
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, ErrorCode::NotFound);
  auto zip = store->readZip(kKnownSha256Hex);
  ASSERT_FALSE(zip);
  EXPECT_EQ(zip.error().code, ErrorCode::NotFound);
  const std::vector<std::string> bad_digests = {"../../etc/passwd", "", "ABCDEF",
                                                std::string(64, 'g'), std::string(64, 'A')};
  for (const std::string& bad : bad_digests) {
    auto d = store->dir(bad);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, ErrorCode::InvalidArgument) << bad;
    EXPECT_EQ(store->readZip(bad).error().code, ErrorCode::InvalidArgument) << bad;
    EXPECT_EQ(store->remove(bad).error().code, ErrorCode::InvalidArgument) << bad;
  }
}

TEST(CodeStoreTest, RemoveDeletesBothAndIsIdempotent) {
  TempDir tmp;
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put(kKnownZip));
  auto st = store->remove(kKnownSha256Hex);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(store->dir(kKnownSha256Hex).error().code, ErrorCode::NotFound);
  EXPECT_EQ(store->readZip(kKnownSha256Hex).error().code, ErrorCode::NotFound);
  EXPECT_TRUE(listNames(tmp.path() / "code").empty());
  EXPECT_TRUE(store->remove(kKnownSha256Hex));
  // And it can come back.
  auto again = store->put(kKnownZip);
  ASSERT_TRUE(again);
  EXPECT_EQ(readFile(again->dir / "lib" / "data.txt"), "kindling");
}

TEST(CodeStoreTest, ReopenKeepsPackages) {
  TempDir tmp;
  {
    auto store = openStore(tmp.path() / "code");
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(kKnownZip));
  }
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto dir = store->dir(kKnownSha256Hex);
  ASSERT_TRUE(dir);
  EXPECT_EQ(readFile(*dir / "bootstrap"), "#!/bin/sh\necho hello\n");
  EXPECT_EQ(*store->readZip(kKnownSha256Hex), kKnownZip);
  // A fresh process learns the unzipped size of an existing package from the zip's headers.
  auto again = store->put(kKnownZip);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->unzipped_size, 21 + 8);
  EXPECT_EQ(again->sha256_b64, kKnownSha256B64);
}

TEST(CodeStoreTest, OpenCleansUpCrashLeftovers) {
  TempDir tmp;
  const fs::path root = tmp.path() / "code";
  {
    auto store = openStore(root);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(kKnownZip));
  }
  // What a crash in the middle of put() can leave: a half-extracted temp tree, a half-written
  // temp zip, and a tree renamed into place whose zip (the commit point) never was.
  writeFile(root / ".tmp-0123abcd.d" / "lib" / "half.py", "import os\n");
  writeFile(root / ".tmp-0123abcd.zip", "PK\x03\x04 truncated");
  writeFile(root / ".tmp-deadbeef.rm" / "x", "being deleted");
  const std::string orphan(64, 'a');
  writeFile(root / orphan / "bootstrap", "#!/bin/sh\n", 0755);
  ASSERT_EQ(listNames(root).size(), 6u);

  auto store = openStore(root);
  ASSERT_TRUE(store);
  EXPECT_EQ(listNames(root),
            (std::vector<std::string>{kKnownSha256Hex, std::string(kKnownSha256Hex) + ".zip"}));
  EXPECT_EQ(store->dir(orphan).error().code, ErrorCode::NotFound);
  // The committed package survived untouched.
  EXPECT_EQ(readFile(root / kKnownSha256Hex / "lib" / "data.txt"), "kindling");
}

TEST(CodeStoreTest, OpenRebuildsALostTreeFromItsZip) {
  TempDir tmp;
  const fs::path root = tmp.path() / "code";
  {
    auto store = openStore(root);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put(kKnownZip));
  }
  fs::remove_all(root / kKnownSha256Hex);
  // A damaged zip whose content no longer matches its name is dropped instead.
  const std::string damaged(64, 'b');
  writeFile(root / (damaged + ".zip"), "not a zip at all");
  auto store = openStore(root);
  ASSERT_TRUE(store);
  EXPECT_EQ(readFile(root / kKnownSha256Hex / "bootstrap"), "#!/bin/sh\necho hello\n");
  EXPECT_EQ(modeOf(root / kKnownSha256Hex / "bootstrap") & 0777, 0755u);
  EXPECT_EQ(listNames(root),
            (std::vector<std::string>{kKnownSha256Hex, std::string(kKnownSha256Hex) + ".zip"}));
}

TEST(CodeStoreTest, ZipDirectoryOutputRoundTripsThroughTheStore) {
  TempDir tmp;
  writeFile(tmp.path() / "pkg" / "bootstrap", "#!/bin/sh\n", 0755);
  writeFile(tmp.path() / "pkg" / "app" / "main.py", "print(1)\n");
  auto zip = zipDirectory(tmp.path() / "pkg");
  ASSERT_TRUE(zip);
  auto store = openStore(tmp.path() / "code");
  ASSERT_TRUE(store);
  auto stored = store->put(*zip);
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_EQ(stored->sha256_b64, sha256Digest(*zip).first);
  EXPECT_EQ(stored->unzipped_size, 10 + 9);
  EXPECT_EQ(::access((stored->dir / "bootstrap").c_str(), X_OK), 0);
  EXPECT_EQ(readFile(stored->dir / "app" / "main.py"), "print(1)\n");
}

}  // namespace
}  // namespace kindling::store
