#include "cli/http_client.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace kindling::cli {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

constexpr std::string_view kUserAgent = "kindling-cli/0.1";
// The Log-Result header alone is ~5.5 KB; leave room for everything else.
constexpr uint32_t kHeaderLimit = 64 * 1024;

bool startsWithCi(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// True for failures that mean "the server had already closed this idle connection".
bool isStaleConnection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
         ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
         ec == boost::asio::error::connection_aborted;
}

}  // namespace

Result<Endpoint> parseEndpointUrl(std::string_view url) {
  std::string_view rest = url;
  if (startsWithCi(rest, "https://")) {
    return makeError(ErrorCode::InvalidArgument,
                     "endpoint '" + std::string(url) + "': https is not supported, use http://");
  }
  if (startsWithCi(rest, "http://")) rest.remove_prefix(7);
  if (rest.find("://") != std::string_view::npos) {
    return makeError(ErrorCode::InvalidArgument,
                     "endpoint '" + std::string(url) + "': only http:// is supported");
  }
  Endpoint ep;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    ep.base_path = std::string(path);
  }
  std::string_view host = authority;
  std::string_view port = "80";
  if (!authority.empty() && authority.front() == '[') {  // [::1]:9000
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return makeError(ErrorCode::InvalidArgument,
                       "endpoint '" + std::string(url) + "': bad IPv6 host");
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return makeError(ErrorCode::InvalidArgument,
                         "endpoint '" + std::string(url) + "': bad port");
      }
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  unsigned port_value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
  if (host.empty() || port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      port_value == 0 || port_value > 65535) {
    return makeError(ErrorCode::InvalidArgument,
                     "endpoint '" + std::string(url) + "': expected http://HOST:PORT");
  }
  ep.host = std::string(host);
  ep.port = std::string(port);
  const bool v6 = ep.host.find(':') != std::string::npos;
  ep.url = "http://" + (v6 ? "[" + ep.host + "]" : ep.host) + ":" + ep.port + ep.base_path;
  return ep;
}

std::string urlEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

HttpClient::HttpClient(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

Status HttpClient::connect() {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  const auto results = resolver.resolve(endpoint_.host, endpoint_.port, ec);
  if (ec) {
    return makeError(ErrorCode::Io, "resolve(" + endpoint_.host + "): " + ec.message());
  }
  stream_.emplace(ioc_);
  stream_->connect(results, ec);
  if (ec) {
    stream_.reset();
    return makeError(ErrorCode::Io, "connect(" + endpoint_.host + ":" + endpoint_.port +
                                        "): " + ec.message());
  }
  stream_->socket().set_option(tcp::no_delay(true), ec);  // best effort
  buffer_.clear();
  return {};
}

void HttpClient::disconnect() {
  if (!stream_) return;
  beast::error_code ignored;
  stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_->socket().close(ignored);
  stream_.reset();
  buffer_.clear();
}

Result<HttpResponse> HttpClient::request(HttpVerb verb, std::string_view target, std::string body,
                                         const Headers& headers) {
  http::request<http::string_body> req;
  req.method(verb);
  req.version(11);
  std::string full_target;
  full_target.reserve(endpoint_.base_path.size() + target.size());
  full_target.append(endpoint_.base_path).append(target);
  req.target(full_target);
  req.set(http::field::host, endpoint_.host + ":" + endpoint_.port);
  req.set(http::field::user_agent, kUserAgent);
  for (const auto& [name, value] : headers) req.set(name, value);
  const bool has_body = !body.empty();
  req.body() = std::move(body);
  if (has_body || verb == HttpVerb::post || verb == HttpVerb::put) req.prepare_payload();
  req.keep_alive(true);

  for (int attempt = 0;; ++attempt) {
    const bool reused = stream_.has_value();
    if (!reused) {
      if (auto ok = connect(); !ok) return tl::unexpected(std::move(ok.error()));
    }
    beast::error_code ec;
    http::write(*stream_, req, ec);
    bool got_some = false;
    if (!ec) {
      http::response_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      // Unbounded in effect. Not boost::none: Beast 1.74 compares `len > body_limit_` on an
      // optional, and an empty optional compares less than every length (body_limit error).
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      http::read(*stream_, buffer_, parser, ec);
      got_some = parser.got_some();
      if (!ec) {
        HttpResponse res = parser.release();
        if (!res.keep_alive()) disconnect();
        return res;
      }
    }
    disconnect();
    if (reused && attempt == 0 && !got_some && isStaleConnection(ec)) continue;
    return makeError(ErrorCode::Io, std::string(http::to_string(verb)) + " " + endpoint_.url +
                                        std::string(target) + ": " + ec.message());
  }
}

}  // namespace kindling::cli
