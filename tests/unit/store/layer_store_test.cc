// LayerStore: version numbering, listing and filters, deletion, resolve() errors as AWS words
// them, and the merged /opt trees (order, overwrite, caching, atomicity).
#include "store/layer_store.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "store/registry.h"
#include "store_test_util.h"

namespace kindling::store {
namespace {

namespace fs = std::filesystem;
using testing::buildZip;
using testing::RawEntry;
using testing::readFile;
using testing::TempDir;

class LayerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = Registry::open(dir_.path() / "registry.db");
    ASSERT_TRUE(registry) << registry.error().message();
    registry_ = std::move(*registry);
    auto code = CodeStore::open(dir_.path() / "code");
    ASSERT_TRUE(code) << code.error().message();
    code_ = std::move(*code);
    auto layers = LayerStore::open(dir_.path() / "registry.db", *code_, dir_.path() / "opt");
    ASSERT_TRUE(layers) << layers.error().message();
    layers_ = std::move(*layers);
  }

  LayerVersion publish(const std::string& name, const std::vector<RawEntry>& entries,
                       std::vector<std::string> runtimes = {},
                       std::vector<std::string> architectures = {}) {
    const std::string zip = buildZip(entries);
    PublishLayerRequest request;
    request.name = name;
    request.description = "d-" + name;
    request.license_info = "MIT";
    request.compatible_runtimes = std::move(runtimes);
    request.compatible_architectures = std::move(architectures);
    request.zip_bytes = zip;
    request.now_ms = 1700000000123;
    auto v = layers_->publish(request);
    EXPECT_TRUE(v) << v.error().message();
    return v ? *v : LayerVersion{};
  }

  static std::string arn(const std::string& name, int64_t version) {
    return layerVersionArn("us-east-1", name, version);
  }

  std::vector<LayerRef> resolveOk(const std::vector<std::string>& arns) {
    auto refs = layers_->resolve(arns, "us-east-1");
    EXPECT_TRUE(refs) << refs.error().message();
    return refs ? *refs : std::vector<LayerRef>{};
  }

  TempDir dir_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<CodeStore> code_;
  std::unique_ptr<LayerStore> layers_;
};

TEST(LayerArnTest, ParsesAndRejects) {
  auto full = parseLayerArn("arn:aws:lambda:us-east-1:000000000000:layer:my-layer_1:12");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->region, "us-east-1");
  EXPECT_EQ(full->account, "000000000000");
  EXPECT_EQ(full->name, "my-layer_1");
  EXPECT_EQ(full->version, 12);
  auto unversioned = parseLayerArn("arn:aws:lambda:eu-west-1:123456789012:layer:x");
  ASSERT_TRUE(unversioned);
  EXPECT_FALSE(unversioned->version);
  for (const char* bad : {"", "my-layer", "arn:aws:lambda:us-east-1:000000000000:layer:x:",
                          "arn:aws:lambda:us-east-1:000000000000:layer:x:1a",
                          "arn:aws:lambda:us-east-1:00000000000:layer:x:1",
                          "arn:aws:lambda:us-east-1:000000000000:function:x:1",
                          "arn:aws:s3:us-east-1:000000000000:layer:x:1",
                          "arn:aws:lambda:us-east-1:000000000000:layer:a.b:1",
                          "arn:aws:lambda:us-east-1:000000000000:layer:x:1:2"}) {
    EXPECT_FALSE(parseLayerArn(bad)) << bad;
  }
  EXPECT_FALSE(parseLayerArn("arn:aws:lambda:us-east-1:000000000000:layer:" +
                             std::string(120, 'n') + ":1"));  // > 140 characters
  EXPECT_EQ(layerArn("us-east-1", "x"), "arn:aws:lambda:us-east-1:000000000000:layer:x");
  EXPECT_TRUE(isValidLayerName("a-B_9"));
  EXPECT_FALSE(isValidLayerName("a b"));
  EXPECT_FALSE(isValidLayerName(""));
}

TEST_F(LayerStoreTest, VersionsArePerNameAndNeverReused) {
  auto a1 = publish("alpha", {{"python/a.py", AE_IFREG, 0644, "x = 1\n"}});
  auto a2 = publish("alpha", {{"python/a.py", AE_IFREG, 0644, "x = 2\n"}});
  auto b1 = publish("beta", {{"bin/tool", AE_IFREG, 0755, "#!/bin/sh\n"}});
  EXPECT_EQ(a1.version, 1);
  EXPECT_EQ(a2.version, 2);
  EXPECT_EQ(b1.version, 1);
  EXPECT_EQ(a1.code_sha256_hex.size(), 64u);
  EXPECT_EQ(a1.code_sha256.size(), 44u);
  EXPECT_GT(a1.code_size, 0);
  EXPECT_EQ(a1.unzipped_size, 6);
  EXPECT_EQ(a1.created_ms, 1700000000123);

  auto removed = layers_->remove("alpha", 2);
  ASSERT_TRUE(removed);
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->code_sha256_hex, a2.code_sha256_hex);
  auto again = layers_->remove("alpha", 2);  // idempotent
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(publish("alpha", {{"python/a.py", AE_IFREG, 0644, "x = 3\n"}}).version, 3);

  // Even with every version gone, the numbering continues.
  ASSERT_TRUE(layers_->remove("beta", 1));
  EXPECT_EQ(publish("beta", {{"f", AE_IFREG, 0644, "f"}}).version, 2);
}

TEST_F(LayerStoreTest, VersionNumbersSurviveReopen) {
  publish("alpha", {{"a", AE_IFREG, 0644, "1"}});
  publish("alpha", {{"a", AE_IFREG, 0644, "2"}});
  ASSERT_TRUE(layers_->remove("alpha", 2));
  layers_.reset();
  auto reopened = LayerStore::open(dir_.path() / "registry.db", *code_, dir_.path() / "opt");
  ASSERT_TRUE(reopened) << reopened.error().message();
  layers_ = std::move(*reopened);
  EXPECT_EQ(publish("alpha", {{"a", AE_IFREG, 0644, "3"}}).version, 3);
}

TEST_F(LayerStoreTest, GetAndNotFound) {
  auto v = publish("alpha", {{"a", AE_IFREG, 0644, "1"}}, {"python3.11", "python3.12"},
                   {"x86_64"});
  auto got = layers_->get("alpha", 1);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->description, "d-alpha");
  EXPECT_EQ(got->license_info, "MIT");
  EXPECT_EQ(got->compatible_runtimes, (std::vector<std::string>{"python3.11", "python3.12"}));
  EXPECT_EQ(got->compatible_architectures, std::vector<std::string>{"x86_64"});
  EXPECT_EQ(got->code_sha256, v.code_sha256);
  EXPECT_EQ(layers_->get("alpha", 2).error().code, ErrorCode::NotFound);
  EXPECT_EQ(layers_->get("nope", 1).error().code, ErrorCode::NotFound);
}

TEST_F(LayerStoreTest, ListsLatestMatchingVersionPerName) {
  publish("alpha", {{"a", AE_IFREG, 0644, "1"}}, {"python3.11"}, {"x86_64"});
  publish("alpha", {{"a", AE_IFREG, 0644, "2"}}, {"nodejs20.x"}, {"arm64"});
  publish("beta", {{"b", AE_IFREG, 0644, "1"}}, {"python3.11", "nodejs20.x"});
  publish("gamma", {{"c", AE_IFREG, 0644, "1"}});

  auto all = layers_->listLatest({});
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "alpha");
  EXPECT_EQ((*all)[0].version, 2);
  EXPECT_EQ((*all)[1].name, "beta");
  EXPECT_EQ((*all)[2].name, "gamma");

  auto python = layers_->listLatest({"python3.11", ""});
  ASSERT_TRUE(python);
  ASSERT_EQ(python->size(), 2u);
  EXPECT_EQ((*python)[0].name, "alpha");
  EXPECT_EQ((*python)[0].version, 1);  // latest *matching* version
  EXPECT_EQ((*python)[1].name, "beta");

  auto arm = layers_->listLatest({"", "arm64"});
  ASSERT_TRUE(arm);
  ASSERT_EQ(arm->size(), 1u);
  EXPECT_EQ((*arm)[0].version, 2);
  EXPECT_TRUE(layers_->listLatest({"java21", ""})->empty());

  auto versions = layers_->listVersions("alpha", {});
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 2);  // newest first
  EXPECT_EQ((*versions)[1].version, 1);
  auto filtered = layers_->listVersions("alpha", {"python3.11", "x86_64"});
  ASSERT_TRUE(filtered);
  ASSERT_EQ(filtered->size(), 1u);
  EXPECT_EQ((*filtered)[0].version, 1);
  EXPECT_TRUE(layers_->listVersions("nope", {})->empty());

  ASSERT_TRUE(layers_->remove("gamma", 1));
  EXPECT_EQ(layers_->listLatest({})->size(), 2u);  // a name without versions is not listed
}

TEST_F(LayerStoreTest, ResolvePinsContent) {
  auto a = publish("alpha", {{"a", AE_IFREG, 0644, "1"}});
  auto b = publish("beta", {{"b", AE_IFREG, 0644, "2"}});
  auto refs = resolveOk({arn("beta", 1), arn("alpha", 1)});
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].arn, arn("beta", 1));
  EXPECT_EQ(refs[0].code_sha256_hex, b.code_sha256_hex);
  EXPECT_EQ(refs[0].code_size, b.code_size);
  EXPECT_EQ(refs[1].code_sha256_hex, a.code_sha256_hex);
  EXPECT_TRUE(resolveOk({}).empty());
}

TEST_F(LayerStoreTest, ResolveErrorsAsAws) {
  publish("alpha", {{"a", AE_IFREG, 0644, "1"}});
  publish("alpha", {{"a", AE_IFREG, 0644, "2"}});
  for (int i = 0; i < 5; ++i) publish("l" + std::to_string(i), {{"f", AE_IFREG, 0644, "x"}});

  std::vector<std::string> six;
  for (int i = 0; i < 5; ++i) six.push_back(arn("l" + std::to_string(i), 1));
  EXPECT_TRUE(layers_->resolve(six, "us-east-1"));  // five is the limit
  six.push_back(arn("alpha", 1));
  auto too_many = layers_->resolve(six, "us-east-1");
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(too_many.error().context, "Cannot reference more than 5 layers.");

  auto malformed = layers_->resolve({"arn:aws:lambda:us-east-1:000000000000:layer:alpha"},
                                    "us-east-1");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::Validation);
  EXPECT_NE(malformed.error().context.find("at 'layers' failed to satisfy constraint"),
            std::string::npos);

  auto missing = layers_->resolve({arn("alpha", 3)}, "us-east-1");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(missing.error().context, "Layer version " + arn("alpha", 3) + " does not exist.");

  const std::string other_account = "arn:aws:lambda:us-east-1:123456789012:layer:alpha:1";
  EXPECT_EQ(layers_->resolve({other_account}, "us-east-1").error().context,
            "Layer version " + other_account + " does not exist.");

  auto region = layers_->resolve({layerVersionArn("eu-west-1", "alpha", 1)}, "us-east-1");
  ASSERT_FALSE(region);
  EXPECT_EQ(region.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(region.error().context,
            "Layers are not in the same region as the function. Layers are expected to be in "
            "region us-east-1.");

  auto twice = layers_->resolve({arn("alpha", 1), arn("l0", 1), arn("alpha", 2)}, "us-east-1");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(twice.error().context,
            "Two different versions of the same layer are not allowed to be referenced in the "
            "same function. " + arn("alpha", 1) + " and " + arn("alpha", 2) +
                " are versions of the same layer.");
}

TEST_F(LayerStoreTest, ResolvedRefsOutliveDeletion) {
  publish("alpha", {{"python/m.py", AE_IFREG, 0644, "v = 1\n"}});
  auto refs = resolveOk({arn("alpha", 1)});
  ASSERT_TRUE(layers_->remove("alpha", 1));
  // A deleted version can no longer be referenced...
  EXPECT_FALSE(layers_->resolve({arn("alpha", 1)}, "us-east-1"));
  // ...but functions that pinned it keep their content (the zip is still in the code store).
  auto opt = layers_->materialize(refs);
  ASSERT_TRUE(opt) << opt.error().message();
  EXPECT_EQ(readFile(*opt / "python/m.py"), "v = 1\n");
  auto size = layers_->unzippedSize(refs);
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, 6);
}

TEST_F(LayerStoreTest, MaterializeMergesInOrderLaterWins) {
  publish("first", {{"python/", AE_IFDIR, 0755, ""},
                    {"python/only_first.py", AE_IFREG, 0644, "first\n"},
                    {"python/shared.py", AE_IFREG, 0644, "from first\n"},
                    {"conflict/", AE_IFDIR, 0755, ""},
                    {"conflict/inner", AE_IFREG, 0644, "dir in first\n"},
                    {"bin/tool", AE_IFREG, 0755, "#!/bin/sh\necho first\n"},
                    {"link", AE_IFLNK, 0777, "python/shared.py"}});
  publish("second", {{"python/shared.py", AE_IFREG, 0644, "from second\n"},
                     {"python/only_second.py", AE_IFREG, 0644, "second\n"},
                     {"conflict", AE_IFREG, 0644, "file in second\n"}});
  auto forward = resolveOk({arn("first", 1), arn("second", 1)});
  auto opt = layers_->materialize(forward);
  ASSERT_TRUE(opt) << opt.error().message();
  EXPECT_EQ(opt->parent_path(), layers_->optRoot());
  EXPECT_EQ(readFile(*opt / "python/only_first.py"), "first\n");
  EXPECT_EQ(readFile(*opt / "python/only_second.py"), "second\n");
  EXPECT_EQ(readFile(*opt / "python/shared.py"), "from second\n");
  EXPECT_EQ(readFile(*opt / "conflict"), "file in second\n");
  EXPECT_TRUE(S_ISLNK(testing::modeOf(*opt / "link")));
  EXPECT_EQ(readFile(*opt / "link"), "from second\n");  // relative link into the merged tree
  EXPECT_EQ(testing::modeOf(*opt / "bin/tool") & 0777, 0755u);
  EXPECT_EQ(testing::modeOf(*opt) & 0777, 0755u);

  // The other order gives a different tree.
  auto backward = resolveOk({arn("second", 1), arn("first", 1)});
  auto opt2 = layers_->materialize(backward);
  ASSERT_TRUE(opt2) << opt2.error().message();
  EXPECT_NE(*opt, *opt2);
  EXPECT_EQ(readFile(*opt2 / "python/shared.py"), "from first\n");
  EXPECT_TRUE(fs::is_directory(*opt2 / "conflict"));
  EXPECT_EQ(readFile(*opt2 / "conflict/inner"), "dir in first\n");
  // The first tree is untouched by building the second (hardlinks are replaced, never written).
  EXPECT_EQ(readFile(*opt / "python/shared.py"), "from second\n");
}

TEST_F(LayerStoreTest, MaterializeIsCachedAndHardlinked) {
  auto v = publish("alpha", {{"python/m.py", AE_IFREG, 0644, "v = 1\n"}});
  auto refs = resolveOk({arn("alpha", 1)});
  auto opt = layers_->materialize(refs);
  ASSERT_TRUE(opt) << opt.error().message();
  struct stat merged {}, stored {};
  ASSERT_EQ(::stat((*opt / "python/m.py").c_str(), &merged), 0);
  auto code_dir = code_->dir(v.code_sha256_hex);
  ASSERT_TRUE(code_dir);
  ASSERT_EQ(::stat((*code_dir / "python/m.py").c_str(), &stored), 0);
  EXPECT_EQ(merged.st_ino, stored.st_ino);  // a link, not a copy

  // Cached: the same list gives the same directory without rebuilding it.
  testing::writeFile(*opt / "marker", "kept");
  auto again = layers_->materialize(refs);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *opt);
  EXPECT_EQ(readFile(*again / "marker"), "kept");
  // Same content under another version: same tree (keyed by digests, not ARNs).
  publish("other", {{"python/m.py", AE_IFREG, 0644, "v = 1\n"}});
  auto same_content = layers_->materialize(resolveOk({arn("other", 1)}));
  ASSERT_TRUE(same_content);
  EXPECT_EQ(*same_content, *opt);

  auto none = layers_->materialize({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(LayerStoreTest, MaterializeIsAtomic) {
  publish("alpha", {{"a", AE_IFREG, 0644, "1"}});
  auto refs = resolveOk({arn("alpha", 1)});
  refs.push_back(LayerRef{arn("ghost", 1), std::string(64, 'a'), 1});  // package not stored
  auto failed = layers_->materialize(refs);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::NotFound);
  // Nothing was left behind: no final tree, no temp tree.
  EXPECT_TRUE(fs::is_empty(layers_->optRoot()));

  // A crash mid-build leaves only a ".tmp-" tree, which open() removes.
  testing::writeFile(layers_->optRoot() / ".tmp-crashed/python/half.py", "x");
  auto reopened = LayerStore::open(dir_.path() / "registry.db", *code_, dir_.path() / "opt");
  ASSERT_TRUE(reopened) << reopened.error().message();
  EXPECT_FALSE(fs::exists(layers_->optRoot() / ".tmp-crashed"));
}

TEST_F(LayerStoreTest, PruneKeepsOnlyTheGivenTrees) {
  publish("alpha", {{"a", AE_IFREG, 0644, "1"}});
  publish("beta", {{"b", AE_IFREG, 0644, "2"}});
  auto a = layers_->materialize(resolveOk({arn("alpha", 1)}));
  auto b = layers_->materialize(resolveOk({arn("beta", 1)}));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(layers_->pruneMaterialized({*a}));
  EXPECT_TRUE(fs::exists(*a / "a"));
  EXPECT_FALSE(fs::exists(*b));
  // Rebuilt on demand.
  auto b2 = layers_->materialize(resolveOk({arn("beta", 1)}));
  ASSERT_TRUE(b2);
  EXPECT_EQ(readFile(*b2 / "b"), "2");
}

TEST_F(LayerStoreTest, UnzippedTotalLimit) {
  publish("alpha", {{"a", AE_IFREG, 0644, std::string(1000, 'x')}});
  auto refs = resolveOk({arn("alpha", 1)});
  EXPECT_TRUE(layers_->checkUnzippedTotal(262144000 - 1000, refs));
  auto over = layers_->checkUnzippedTotal(262144000 - 999, refs);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(over.error().context,
            "Function code combined with layers exceeds the maximum allowed size of 262144000 "
            "bytes. The actual size is 262144001 bytes.");
}

TEST_F(LayerStoreTest, PublishRejectsBadNamesAndZips) {
  PublishLayerRequest request;
  request.name = "bad name";
  const std::string zip = buildZip({{"a", AE_IFREG, 0644, "1"}});
  request.zip_bytes = zip;
  auto bad_name = layers_->publish(request);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ErrorCode::Validation);

  request.name = "good";
  request.zip_bytes = "not a zip";
  auto bad_zip = layers_->publish(request);
  ASSERT_FALSE(bad_zip);
  EXPECT_EQ(bad_zip.error().code, ErrorCode::InvalidZip);
  // A failed publish consumes no version number.
  EXPECT_EQ(publish("good", {{"a", AE_IFREG, 0644, "1"}}).version, 1);
}

}  // namespace
}  // namespace kindling::store
