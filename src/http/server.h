// A small asynchronous HTTP/1.1 server on Boost.Beast, shared by the AWS API and the per-
// environment Runtime API. It turns bytes into typed requests and hands each one to a Handler
// together with a Responder; the handler may answer at once or much later (the Runtime API's
// /next long poll), from any thread. Connections are persistent (keep-alive) and sequential: the
// next request on a connection is read only after the previous one was answered.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "common/result.h"

namespace kindling::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using RequestHeader = boost::beast::http::request_header<>;

// Answers one request. Call send() exactly once (later calls are ignored), from any thread.
// Copyable: copies share one state.
class Responder {
 public:
  using Sink = std::function<void(Response&&)>;
  explicit Responder(Sink sink, boost::asio::ip::tcp::endpoint peer = {});
  void send(Response&& response) const;
  // The peer's address (for access checks), as seen by the accepting socket.
  const boost::asio::ip::tcp::endpoint& peer() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct ServerOptions {
  // Largest body accepted, decided per request from its header (e.g. 6 MB for invokes, ~75 MB
  // for CreateFunction). Returning 0 means "use default_body_limit".
  std::function<uint64_t(const RequestHeader&)> body_limit_for;
  uint64_t default_body_limit = 1 << 20;
  // Called instead of the handler when a body exceeds its limit; the header is complete.
  std::function<Response(const RequestHeader&)> on_body_too_large;
  // Decides on each accepted connection (peer, local endpoint); a refused one is closed at once.
  std::function<bool(const boost::asio::ip::tcp::endpoint& peer,
                     const boost::asio::ip::tcp::endpoint& local)>
      accept_filter;
};

class Server {
 public:
  using Handler = std::function<void(Request&&, Responder)>;
  // Binds host:port (port 0 = any free port) on the given io_context.
  static Result<std::shared_ptr<Server>> listen(boost::asio::io_context& io, const std::string& host,
                                                uint16_t port, Handler handler,
                                                ServerOptions options = {});
  // Serves on an already listening IPv4 TCP socket (taken over), e.g. one created inside an
  // environment's own network namespace.
  static Result<std::shared_ptr<Server>> adopt(boost::asio::io_context& io, int listening_fd,
                                               Handler handler, ServerOptions options = {});
  ~Server();
  uint16_t port() const { return port_; }
  // Stops accepting and closes idle connections; a connection whose request is being handled
  // is answered first (with Connection: close), then closed.
  void stop();

  struct Impl;
 private:
  Server() = default;
  std::shared_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

// A plain response with the given status, content type and body; keep-alive follows the request.
Response makeResponse(const Request& req, boost::beast::http::status status,
                      std::string content_type, std::string body);

}  // namespace kindling::http
