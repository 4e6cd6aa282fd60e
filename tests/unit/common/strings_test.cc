#include "common/strings.h"

#include <gtest/gtest.h>

namespace kindling {
namespace {

TEST(Base64, RoundTripsAllPaddingLengths) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto decoded = base64Decode(base64Encode(s));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(base64Encode("hello"), "aGVsbG8=");
}

TEST(Base64, RejectsMalformed) {
  EXPECT_FALSE(base64Decode("abc").has_value());
  EXPECT_FALSE(base64Decode("a$c=").has_value());
}

TEST(UrlDecode, DecodesArnsAndRejectsBadEscapes) {
  EXPECT_EQ(*urlDecode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
  EXPECT_EQ(*urlDecode("%24LATEST"), "$LATEST");
  EXPECT_FALSE(urlDecode("%2").has_value());
  EXPECT_FALSE(urlDecode("%zz").has_value());
  EXPECT_EQ(*urlDecode("a+b", true), "a b");
}

TEST(Timestamps, AwsFormat) {
  EXPECT_EQ(isoTimestampAws(1586545592563), "2020-04-10T19:06:32.563+0000");
  EXPECT_EQ(isoTimestampZ(1586545592563), "2020-04-10T19:06:32.563Z");
}

TEST(Digest, Sha256HexMatchesFips180Vectors) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Uuid, HasV4Shape) {
  const std::string id = uuid4();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_EQ(randomHex32().size(), 32u);
}

}  // namespace
}  // namespace kindling
