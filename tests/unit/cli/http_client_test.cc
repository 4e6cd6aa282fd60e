#include "cli/http_client.h"

#include <gtest/gtest.h>

namespace kindling::cli {
namespace {

TEST(ParseEndpointUrl, AcceptedForms) {
  auto a = parseEndpointUrl("http://127.0.0.1:9000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "9000");
  EXPECT_EQ(a->base_path, "");
  EXPECT_EQ(a->url, "http://127.0.0.1:9000");

  auto b = parseEndpointUrl("HTTP://localhost:8080/prefix/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->base_path, "/prefix");
  EXPECT_EQ(b->url, "http://localhost:8080/prefix");

  auto c = parseEndpointUrl("example.com");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port, "80");

  auto d = parseEndpointUrl("http://[::1]:9001");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, "9001");
  EXPECT_EQ(d->url, "http://[::1]:9001");

  auto e = parseEndpointUrl("10.0.0.2:7000");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "10.0.0.2");
  EXPECT_EQ(e->port, "7000");
}

TEST(ParseEndpointUrl, RejectedForms) {
  auto tls = parseEndpointUrl("https://lambda.example.com");
  ASSERT_FALSE(tls);
  EXPECT_NE(tls.error().message().find("https"), std::string::npos);
  EXPECT_FALSE(parseEndpointUrl("ftp://h:1"));
  EXPECT_FALSE(parseEndpointUrl("http://:9000"));
  EXPECT_FALSE(parseEndpointUrl("http://h:0"));
  EXPECT_FALSE(parseEndpointUrl("http://h:99999"));
  EXPECT_FALSE(parseEndpointUrl("http://h:12ab"));
  EXPECT_FALSE(parseEndpointUrl(""));
}

TEST(UrlEncode, KeepsOnlyUnreserved) {
  EXPECT_EQ(urlEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(urlEncode("a/b c$[]:%"), "a%2Fb%20c%24%5B%5D%3A%25");
  EXPECT_EQ(urlEncode(std::string("\xff\x00", 2)), "%FF%00");
  EXPECT_EQ(urlEncode(""), "");
}

}  // namespace
}  // namespace kindling::cli
