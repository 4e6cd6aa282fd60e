// A small synchronous HTTP/1.1 client on Boost.Beast for the CLI: one persistent (keep-alive)
// connection to the daemon, reopened transparently when the server closed an idle connection.
// Response bodies are unbounded (a CreateFunction reply is small, but logs and invoke results
// can be large) and request bodies are moved in, never copied (a 50 MB zip is ~70 MB of JSON).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/message.hpp>

#include "common/result.h"

namespace kindling::cli {

using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpVerb = boost::beast::http::verb;

// A parsed "http://host:port[/base]" daemon address.
struct Endpoint {
  std::string host;
  std::string port;       // numeric, "80" when omitted
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  std::string url;        // normalised: "http://host:port[/base]"
};

// Parses an endpoint URL; accepts "host:port" without a scheme; rejects https (no TLS here).
// Pure; thread-safe.
Result<Endpoint> parseEndpointUrl(std::string_view url);

// Percent-encodes everything except RFC 3986 unreserved characters (path segments, query
// values). Pure; thread-safe.
std::string urlEncode(std::string_view in);

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

  explicit HttpClient(Endpoint endpoint);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request (`target` is appended to the endpoint's base path) and reads the whole
  // response. Retries once on a fresh connection if a reused keep-alive connection turned out to
  // be closed before any response byte arrived. Not thread-safe (one connection).
  Result<HttpResponse> request(HttpVerb verb, std::string_view target, std::string body = {},
                               const Headers& headers = {});

  // The daemon's base URL (for messages). Thread-safe.
  const std::string& url() const { return endpoint_.url; }

 private:
  Status connect();
  void disconnect();

  Endpoint endpoint_;
  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;  // engaged while connected
  boost::beast::flat_buffer buffer_;
};

}  // namespace kindling::cli
