#include "bench/bench_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <charconv>
#include <cstdlib>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace kindling::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Result<Endpoint> parseEndpoint(std::string_view url) {
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") rest.remove_prefix(7);
  if (rest.substr(0, 8) == "https://") {
    return makeError(ErrorCode::InvalidArgument, "https endpoints are not supported: " +
                                                     std::string(url));
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return makeError(ErrorCode::InvalidArgument,
                     "expected http://HOST:PORT, got '" + std::string(url) + "'");
  }
  unsigned port = 0;
  const std::string_view port_text = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return makeError(ErrorCode::InvalidArgument, "bad port in '" + std::string(url) + "'");
  }
  return Endpoint{std::string(rest.substr(0, colon)), static_cast<uint16_t>(port)};
}

std::string buildRequest(std::string_view method, std::string_view target,
                         const Endpoint& endpoint, std::string_view body,
                         std::string_view extra_headers) {
  std::string out;
  out.reserve(160 + target.size() + extra_headers.size() + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  out.append(endpoint.host).append(":").append(std::to_string(endpoint.port)).append("\r\n");
  out.append("Content-Type: application/json\r\nContent-Length: ");
  out.append(std::to_string(body.size())).append("\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string invokeRequestBytes(const Endpoint& endpoint, std::string_view function_name,
                               std::string_view payload, bool tail) {
  std::string target = "/2015-03-31/functions/";
  target.append(function_name).append("/invocations");
  return buildRequest("POST", target, endpoint, payload,
                      tail ? "X-Amz-Log-Type: Tail\r\n" : "");
}

std::string eventInvokeRequestBytes(const Endpoint& endpoint, std::string_view function_name,
                                    std::string_view payload) {
  std::string target = "/2015-03-31/functions/";
  target.append(function_name).append("/invocations");
  return buildRequest("POST", target, endpoint, payload, "X-Amz-Invocation-Type: Event\r\n");
}

struct Connection::Impl {
  Endpoint endpoint;
  asio::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
  bool open = false;

  Status connect() {
    boost::system::error_code ec;
    if (socket.is_open()) socket.close(ec);
    buffer.clear();
    const auto address = asio::ip::make_address(endpoint.host, ec);
    if (ec) {
      // Not a literal address: resolve it.
      tcp::resolver resolver(io);
      auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
      if (ec) {
        return makeError(ErrorCode::Io, "resolve(" + endpoint.host + "): " + ec.message());
      }
      asio::connect(socket, results, ec);
    } else {
      socket.connect(tcp::endpoint(address, endpoint.port), ec);
    }
    if (ec) {
      return makeError(ErrorCode::Io, "connect(" + endpoint.host + ":" +
                                          std::to_string(endpoint.port) + "): " + ec.message());
    }
    socket.set_option(tcp::no_delay(true), ec);
    open = true;
    return {};
  }

  // One attempt; `fresh_socket_failure` tells whether a failure happened before any response
  // byte arrived (then a retry on a new connection is safe for our idempotent-enough calls).
  Status once(std::string_view request, Reply& reply, bool& retryable) {
    retryable = false;
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(request.data(), request.size()), ec);
    if (ec) {
      retryable = true;
      return makeError(ErrorCode::Io, "write: " + ec.message());
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64ull << 20);
    bhttp::read(socket, buffer, parser, ec);
    if (ec) {
      retryable = ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                  ec == asio::error::eof;
      return makeError(ErrorCode::Io, "read response: " + ec.message());
    }
    auto& res = parser.get();
    reply.status = static_cast<int>(res.result_int());
    reply.function_error.clear();
    reply.log_result.clear();
    if (auto it = res.find("X-Amz-Function-Error"); it != res.end()) {
      reply.function_error.assign(it->value().data(), it->value().size());
    }
    if (auto it = res.find("X-Amz-Log-Result"); it != res.end()) {
      reply.log_result.assign(it->value().data(), it->value().size());
    }
    reply.body = std::move(res.body());
    if (!res.keep_alive()) open = false;
    return {};
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = endpoint;
  if (auto st = impl->connect(); !st) return tl::unexpected(std::move(st.error()));
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Status Connection::roundTrip(std::string_view request, Reply& reply) {
  bool reused = impl_->open;
  if (!impl_->open) {
    if (auto st = impl_->connect(); !st) return st;
    reused = false;
  }
  bool retryable = false;
  auto st = impl_->once(request, reply, retryable);
  if (st || !retryable || !reused) {
    if (!st) impl_->open = false;
    return st;
  }
  if (auto c = impl_->connect(); !c) return c;
  st = impl_->once(request, reply, retryable);
  if (!st) impl_->open = false;
  return st;
}

namespace {

// "<status> <AWS type>: <message>" from an AWS error reply.
std::string describeError(const Reply& reply) {
  std::string out = "HTTP " + std::to_string(reply.status);
  auto doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) {
    if (auto t = doc.find("Type"); t != doc.end() && t->is_string()) out += " " + t->get<std::string>();
    for (const char* key : {"message", "Message"}) {
      if (auto m = doc.find(key); m != doc.end() && m->is_string()) {
        out += ": " + m->get<std::string>();
        break;
      }
    }
  } else if (!reply.body.empty()) {
    out += ": " + reply.body.substr(0, 300);
  }
  return out;
}

}  // namespace

Status createFunction(Connection& conn, const Endpoint& endpoint, const FunctionSpec& spec) {
  nlohmann::json doc = {
      {"FunctionName", spec.name},
      {"Runtime", spec.runtime},
      {"Handler", spec.handler},
      {"Role", "arn:aws:iam::000000000000:role/kindling-bench"},
      {"MemorySize", spec.memory_mb},
      {"Timeout", spec.timeout_s},
      {"Code", {{"ZipFile", spec.zip_base64}}},
  };
  const std::string request =
      buildRequest("POST", "/2015-03-31/functions", endpoint, doc.dump());
  Reply reply;
  if (auto st = conn.roundTrip(request, reply); !st) {
    return tl::unexpected(std::move(st.error()).wrap("CreateFunction " + spec.name));
  }
  if (reply.status == 201) return {};
  const std::string what = "CreateFunction " + spec.name + " (" + spec.runtime +
                           "): " + describeError(reply);
  // A runtime the daemon does not offer on this host is a reason to skip, not to abort.
  const bool runtime_refused = reply.status == 400 &&
                               reply.body.find("runtime") != std::string::npos &&
                               reply.body.find(spec.runtime) != std::string::npos;
  return makeError(runtime_refused ? ErrorCode::InvalidRuntime : ErrorCode::Internal, what);
}

Status deleteFunction(Connection& conn, const Endpoint& endpoint, std::string_view name) {
  const std::string request =
      buildRequest("DELETE", "/2015-03-31/functions/" + std::string(name), endpoint, {});
  Reply reply;
  if (auto st = conn.roundTrip(request, reply); !st) {
    return tl::unexpected(std::move(st.error()).wrap("DeleteFunction " + std::string(name)));
  }
  if (reply.status == 204 || reply.status == 200 || reply.status == 404) return {};
  return makeError(ErrorCode::Internal,
                   "DeleteFunction " + std::string(name) + ": " + describeError(reply));
}

Status putEventInvokeConfig(Connection& conn, const Endpoint& endpoint, std::string_view name,
                            const EventInvokeSpec& spec) {
  nlohmann::json destinations = nlohmann::json::object();
  if (!spec.on_success.empty()) destinations["OnSuccess"] = {{"Destination", spec.on_success}};
  if (!spec.on_failure.empty()) destinations["OnFailure"] = {{"Destination", spec.on_failure}};
  nlohmann::json doc = {{"DestinationConfig", std::move(destinations)}};
  if (spec.max_retry_attempts) doc["MaximumRetryAttempts"] = *spec.max_retry_attempts;
  const std::string target = "/2019-09-25/functions/" + std::string(name) + "/event-invoke-config";
  const std::string request = buildRequest("PUT", target, endpoint, doc.dump());
  Reply reply;
  if (auto st = conn.roundTrip(request, reply); !st) {
    return tl::unexpected(std::move(st.error()).wrap("PutFunctionEventInvokeConfig " +
                                                     std::string(name)));
  }
  if (reply.status == 200) return {};
  return makeError(ErrorCode::Internal, "PutFunctionEventInvokeConfig " + std::string(name) +
                                            ": " + describeError(reply));
}

std::string queueListRequestBytes(const Endpoint& endpoint) {
  return buildRequest("GET", "/kindling/v1/queues", endpoint, {});
}

Status listQueues(Connection& conn, const std::string& request, Reply& reply,
                  std::vector<QueueCount>& out) {
  out.clear();
  if (auto st = conn.roundTrip(request, reply); !st) {
    return tl::unexpected(std::move(st.error()).wrap("GET /kindling/v1/queues"));
  }
  if (reply.status != 200) {
    return makeError(ErrorCode::Internal, "GET /kindling/v1/queues: " + describeError(reply));
  }
  auto doc = nlohmann::json::parse(reply.body, nullptr, false);
  auto queues = doc.is_object() ? doc.find("Queues") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || queues == doc.end() || !queues->is_array()) {
    return makeError(ErrorCode::Internal,
                     "GET /kindling/v1/queues: no Queues array in " + reply.body.substr(0, 200));
  }
  for (const auto& q : *queues) {
    auto name = q.find("QueueName");
    auto visible = q.find("ApproximateNumberOfMessages");
    auto hidden = q.find("ApproximateNumberOfMessagesNotVisible");
    if (name == q.end() || !name->is_string() || visible == q.end() ||
        !visible->is_number_integer()) {
      return makeError(ErrorCode::Internal,
                       "GET /kindling/v1/queues: malformed queue entry " + q.dump());
    }
    QueueCount& c = out.emplace_back();
    c.name = name->get<std::string>();
    c.visible = visible->get<int64_t>();
    if (hidden != q.end() && hidden->is_number_integer()) c.in_flight = hidden->get<int64_t>();
  }
  return {};
}

Result<std::string> scrapeMetrics(Connection& conn, const Endpoint& endpoint) {
  Reply reply;
  if (auto st = conn.roundTrip(buildRequest("GET", "/metrics", endpoint, {}), reply); !st) {
    return tl::unexpected(std::move(st.error()).wrap("GET /metrics"));
  }
  if (reply.status != 200) {
    return makeError(ErrorCode::Internal, "GET /metrics: " + describeError(reply));
  }
  return std::move(reply.body);
}

std::optional<double> functionMetric(std::string_view prometheus_text, std::string_view family,
                                     std::string_view function) {
  std::string key;
  key.reserve(family.size() + function.size() + 16);
  key.append(family).append("{function=\"").append(function).append("\"} ");
  size_t at = 0;
  while ((at = prometheus_text.find(key, at)) != std::string_view::npos) {
    if (at == 0 || prometheus_text[at - 1] == '\n') {
      const char* begin = prometheus_text.data() + at + key.size();
      const char* end = prometheus_text.data() + prometheus_text.size();
      double value = 0;
      auto [ptr, ec] = std::from_chars(begin, end, value);
      if (ec == std::errc() && ptr != begin) return value;
      return std::nullopt;
    }
    at += key.size();
  }
  return std::nullopt;
}

namespace {

// Parses the number right after `key` in `line` ("12.96 ms" -> 12.96).
std::optional<double> numberAfter(std::string_view line, std::string_view key) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = line.data() + at + key.size();
  const char* end = line.data() + line.size();
  double value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ReportFigures> parseReportLine(std::string_view log_tail) {
  const size_t at = log_tail.rfind("REPORT RequestId: ");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = log_tail.substr(at);
  if (const size_t nl = line.find('\n'); nl != std::string_view::npos) line = line.substr(0, nl);
  // "\tDuration: " (with the TAB) so "Billed Duration" and "Init Duration" never match.
  auto duration = numberAfter(line, "\tDuration: ");
  if (!duration) return std::nullopt;
  ReportFigures figures;
  figures.duration_ms = *duration;
  figures.init_duration_ms = numberAfter(line, "\tInit Duration: ");
  return figures;
}

}  // namespace kindling::bench
