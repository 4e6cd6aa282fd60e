#include "http/server.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <limits>
#include <optional>
#include <unordered_set>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

namespace kindling::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr uint32_t kHeaderLimit = 64 * 1024;
}

class Session;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_context, Handler h, ServerOptions o)
      : io(io_context), acceptor(asio::make_strand(io_context)),
        accept_retry(acceptor.get_executor()), handler(std::move(h)), options(std::move(o)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  // Out of fds (EMFILE/ENFILE) or kernel memory, accept() fails while the connection waits in
  // the backlog, so an immediate retry would spin: retry after a growing pause instead (10 ms
  // doubling to 1 s). On the acceptor's strand, like the acceptor.
  asio::steady_timer accept_retry;
  std::chrono::milliseconds accept_backoff{0};
  Handler handler;
  ServerOptions options;
  std::mutex mu;
  std::unordered_set<std::shared_ptr<Session>> sessions;  // guarded by mu
  std::atomic<bool> stopped{false};

  void accept();
  // EMFILE, ENFILE, ENOBUFS, ENOMEM: transient, retried after a pause.
  static bool resourceShortage(const beast::error_code& ec);
  // Arms accept_retry (backoff) to call accept() again. On the acceptor's strand.
  void acceptLater(const beast::error_code& ec);
  void forget(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mu);
    sessions.erase(s);
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server)
      : socket_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    peer_ = socket_.remote_endpoint(ec);
    socket_.set_option(tcp::no_delay(true), ec);
  }

  void start() { readHeader(); }

  // Closes the connection now if no request is being handled; otherwise after its response.
  void close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->busy_) return;
      beast::error_code ec;
      self->socket_.shutdown(tcp::socket::shutdown_both, ec);
      self->socket_.close(ec);
    });
  }

  // Called through Responder from any thread.
  void send(Response&& response, bool keep_alive) {
    auto res = std::make_shared<Response>(std::move(response));
    asio::post(socket_.get_executor(), [self = shared_from_this(), res, keep_alive] {
      self->write(res, keep_alive);
    });
  }

  const tcp::endpoint& peer() const { return peer_; }

 private:
  void readHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // Beast checks Content-Length against the body limit while parsing the header; the real,
    // per-route limit is applied in onHeader once the target is known.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    bhttp::async_read_header(socket_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->onHeader(ec);
                             });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return finish();
    const auto& header = parser_->get().base();
    uint64_t limit = 0;
    if (server_->options.body_limit_for) limit = server_->options.body_limit_for(header);
    if (limit == 0) limit = server_->options.default_body_limit;
    parser_->body_limit(limit);
    const auto length = parser_->content_length();
    if (length && *length > limit) return rejectTooLarge();
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec2, size_t) {
                        self->onRead(ec2);
                      });
  }

  void rejectTooLarge() {
    const auto& header = parser_->get().base();
    Response res;
    if (server_->options.on_body_too_large) {
      res = server_->options.on_body_too_large(header);
    } else {
      res.result(bhttp::status::payload_too_large);
    }
    res.version(header.version());
    // The unread body is still on the wire: the connection cannot be reused.
    write(std::make_shared<Response>(std::move(res)), false);
  }

  void onRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return rejectTooLarge();
    if (ec) return finish();
    Request req = parser_->release();
    const bool keep_alive = req.keep_alive();
    busy_ = true;
    const unsigned version = req.version();
    auto sink = [self = shared_from_this(), keep_alive, version](Response&& res) {
      res.version(version);
      const bool keep = keep_alive && res.keep_alive();
      self->send(std::move(res), keep);
    };
    server_->handler(std::move(req), Responder(std::move(sink), peer_));
  }

  void write(std::shared_ptr<Response> res, bool keep_alive) {
    busy_ = false;
    if (closing_) keep_alive = false;
    res->keep_alive(keep_alive);
    res->prepare_payload();
    bhttp::async_write(socket_, *res,
                       [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                         if (ec || !keep_alive) {
                           beast::error_code ignored;
                           self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                           return self->finish();
                         }
                         self->readHeader();
                       });
  }

  void finish() {
    beast::error_code ignored;
    socket_.close(ignored);
    server_->forget(shared_from_this());
  }

  tcp::socket socket_;
  std::shared_ptr<Server::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  tcp::endpoint peer_;
  bool busy_ = false;     // a request is with the handler (strand-confined)
  bool closing_ = false;  // the server is stopping (strand-confined)
};

}  // namespace kindling::http

namespace kindling::http {

struct Responder::State {
  Sink sink;
  boost::asio::ip::tcp::endpoint peer;
  std::atomic<bool> sent{false};
};

Responder::Responder(Sink sink, boost::asio::ip::tcp::endpoint peer)
    : state_(std::make_shared<State>()) {
  state_->sink = std::move(sink);
  state_->peer = peer;
}

void Responder::send(Response&& response) const {
  if (state_->sent.exchange(true)) return;
  auto sink = std::move(state_->sink);
  sink(std::move(response));
}

const boost::asio::ip::tcp::endpoint& Responder::peer() const { return state_->peer; }

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (self->stopped) return;
                          if (!ec && self->options.accept_filter) {
                            beast::error_code e1, e2;
                            const auto peer = socket.remote_endpoint(e1);
                            const auto local = socket.local_endpoint(e2);
                            if (e1 || e2 || !self->options.accept_filter(peer, local)) {
                              socket.close(e1);
                              return self->accept();
                            }
                          }
                          if (!ec) {
                            auto session = std::make_shared<Session>(std::move(socket), self);
                            {
                              std::lock_guard lock(self->mu);
                              self->sessions.insert(session);
                            }
                            session->start();
                          } else if (ec == asio::error::operation_aborted) {
                            return;
                          } else if (self->resourceShortage(ec)) {
                            return self->acceptLater(ec);
                          } else {
                            spdlog::warn("accept(): {}", ec.message());
                          }
                          if (!ec && self->accept_backoff.count() > 0) {
                            spdlog::info("accept(): accepting again");
                            self->accept_backoff = std::chrono::milliseconds(0);
                          }
                          self->accept();
                        });
}

bool Server::Impl::resourceShortage(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

void Server::Impl::acceptLater(const beast::error_code& ec) {
  using std::chrono::milliseconds;
  if (accept_backoff.count() == 0) {
    // Logged once per episode: the connection stays in the backlog until an fd is free.
    spdlog::warn("accept(): {}; pausing accepts (retrying with backoff)", ec.message());
    accept_backoff = milliseconds(10);
  } else {
    accept_backoff = std::min(accept_backoff * 2, milliseconds(1000));
  }
  accept_retry.expires_after(accept_backoff);
  accept_retry.async_wait([self = shared_from_this()](const beast::error_code& wait_ec) {
    if (wait_ec || self->stopped) return;
    self->accept();
  });
}

Result<std::shared_ptr<Server>> Server::listen(asio::io_context& io, const std::string& host,
                                               uint16_t port, Handler handler,
                                               ServerOptions options) {
  auto impl = std::make_shared<Impl>(io, std::move(handler), std::move(options));
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return makeError(ErrorCode::InvalidArgument, "bad listen address '" + host + "'");
  tcp::endpoint endpoint(address, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return tl::unexpected(Error{ErrorCode::Io, ec.value(),
                                "listen(" + host + ":" + std::to_string(port) + ")"});
  }
  auto server = std::shared_ptr<Server>(new Server());
  server->port_ = impl->acceptor.local_endpoint(ec).port();
  server->impl_ = impl;
  asio::post(impl->acceptor.get_executor(), [impl] { impl->accept(); });
  return server;
}

Result<std::shared_ptr<Server>> Server::adopt(asio::io_context& io, int listening_fd,
                                              Handler handler, ServerOptions options) {
  auto impl = std::make_shared<Impl>(io, std::move(handler), std::move(options));
  beast::error_code ec;
  impl->acceptor.assign(tcp::v4(), listening_fd, ec);
  if (ec) {
    ::close(listening_fd);
    return tl::unexpected(Error{ErrorCode::Io, ec.value(), "adopt(listening socket)"});
  }
  auto server = std::shared_ptr<Server>(new Server());
  server->port_ = impl->acceptor.local_endpoint(ec).port();
  server->impl_ = impl;
  asio::post(impl->acceptor.get_executor(), [impl] { impl->accept(); });
  return server;
}

Server::~Server() { stop(); }

void Server::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->accept_retry.cancel();
  });
  std::unordered_set<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl_->mu);
    sessions.swap(impl_->sessions);
  }
  for (auto& s : sessions) s->close();
}

Response makeResponse(const Request& req, bhttp::status status, std::string content_type,
                      std::string body) {
  Response res{status, req.version()};
  if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  res.keep_alive(req.keep_alive());
  return res;
}

}  // namespace kindling::http
