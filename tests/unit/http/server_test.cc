// http::Server over real loopback sockets: keep-alive, answers deferred to another thread,
// per-route body limits (413 through on_body_too_large), chunked bodies with trailers, stop().
// The client is a small Beast client on its own io_context; every read has a 5 s deadline so a
// broken server fails the test instead of hanging it.
#include "http/server.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

namespace kindling::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class Client {
 public:
  explicit Client(uint16_t port) : stream_(io_) {
    beast::error_code ec;
    stream_.socket().connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
    EXPECT_FALSE(ec) << "connect: " << ec.message();
  }

  void send(bhttp::verb method, const std::string& target, std::string body = {},
            std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(stream_, req, ec);
    EXPECT_FALSE(ec) << "write: " << ec.message();
  }

  void sendRaw(const std::string& bytes) {
    beast::error_code ec;
    asio::write(stream_.socket(), asio::buffer(bytes), ec);
    EXPECT_FALSE(ec) << "write: " << ec.message();
  }

  // Reads one response; the error code on failure (EOF, timeout, ...).
  Result<Response> read(std::chrono::milliseconds deadline = 5000ms) {
    Response res;
    beast::error_code result = asio::error::would_block;
    stream_.expires_after(deadline);
    bhttp::async_read(stream_, buffer_, res,
                      [&result](beast::error_code ec, size_t) { result = ec; });
    io_.restart();
    io_.run();
    if (result) return tl::unexpected(Error{ErrorCode::Io, 0, result.message()});
    return res;
  }

  uint16_t localPort() const { return stream_.socket().local_endpoint().port(); }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start(Server::Handler handler, ServerOptions options = {}) {
    auto server = Server::listen(io_, "127.0.0.1", 0, std::move(handler), std::move(options));
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = *server;
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<Server> server_;
  std::thread thread_;
};

std::string header(const Response& res, std::string_view name) {
  auto it = res.find(name);
  return it == res.end() ? "<absent>" : std::string(it->value());
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  std::mutex mu;
  std::vector<uint16_t> peers;
  start([&](Request&& req, Responder responder) {
    {
      std::lock_guard lock(mu);
      peers.push_back(responder.peer().port());
    }
    responder.send(makeResponse(req, bhttp::status::ok, "text/plain",
                                std::string(req.target()) + " " + req.body()));
  });
  Client client(server_->port());
  client.send(bhttp::verb::post, "/one", "first");
  auto first = client.read();
  ASSERT_TRUE(first.has_value()) << first.error().context;
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(first->body(), "/one first");
  EXPECT_EQ(header(*first, "Content-Type"), "text/plain");
  EXPECT_TRUE(first->keep_alive());

  client.send(bhttp::verb::get, "/two");
  auto second = client.read();
  ASSERT_TRUE(second.has_value()) << second.error().context;
  EXPECT_EQ(second->body(), "/two ");

  std::lock_guard lock(mu);
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0], client.localPort());  // both requests came over the client's one socket
  EXPECT_EQ(peers[1], client.localPort());
}

TEST_F(HttpServerTest, AnswerDeferredToAnotherThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Request, Responder>> waiting;
  start([&](Request&& req, Responder responder) {
    std::lock_guard lock(mu);
    waiting.emplace_back(std::move(req), std::move(responder));
    cv.notify_all();
  });
  Client client(server_->port());
  client.send(bhttp::verb::get, "/2018-06-01/runtime/invocation/next");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return waiting.size() == 1; }));
  }
  // The handler has returned without answering; the answer comes from another thread.
  std::thread other([&] {
    std::lock_guard lock(mu);
    auto& [req, responder] = waiting[0];
    responder.send(makeResponse(req, bhttp::status::ok, "application/json", "{\"late\":true}"));
    // A second send on the same responder is ignored.
    responder.send(makeResponse(req, bhttp::status::internal_server_error, "", "twice"));
  });
  other.join();
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "{\"late\":true}");

  // The connection is still usable, and the ignored second send left nothing behind.
  client.send(bhttp::verb::get, "/again");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return waiting.size() == 2; }));
    waiting[1].second.send(makeResponse(waiting[1].first, bhttp::status::accepted, "", "ok"));
  }
  auto again = client.read();
  ASSERT_TRUE(again.has_value()) << again.error().context;
  EXPECT_EQ(again->result_int(), 202);
  EXPECT_EQ(again->body(), "ok");
}

class BodyLimitTest : public HttpServerTest {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.default_body_limit = 16;
    options.body_limit_for = [](const RequestHeader& h) -> uint64_t {
      if (h.target() == "/small") return 10;
      if (h.target() == "/big") return 1000;
      return 0;  // default
    };
    options.on_body_too_large = [](const RequestHeader& h) {
      Response res{bhttp::status::payload_too_large, h.version()};
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = "too large: " + std::string(h.target());
      return res;
    };
    start(
        [this](Request&& req, Responder responder) {
          {
            std::lock_guard lock(mu_);
            handled_.push_back(std::string(req.target()));
          }
          responder.send(makeResponse(req, bhttp::status::ok, "text/plain",
                                      std::to_string(req.body().size())));
        },
        std::move(options));
  }
  std::vector<std::string> handled() {
    std::lock_guard lock(mu_);
    return handled_;
  }
  std::mutex mu_;
  std::vector<std::string> handled_;
};

TEST_F(BodyLimitTest, WithinTheRouteLimitIsHandled) {
  Client client(server_->port());
  client.send(bhttp::verb::post, "/small", std::string(10, 'x'));
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "10");
}

TEST_F(BodyLimitTest, OverTheRouteLimitIs413AndCloses) {
  Client client(server_->port());
  client.send(bhttp::verb::post, "/small", std::string(11, 'x'));
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ(res->body(), "too large: /small");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_FALSE(client.read().has_value());  // the server closed the connection
  EXPECT_TRUE(handled().empty());
}

TEST_F(BodyLimitTest, RouteLimitAboveTheDefaultIsHonoured) {
  Client client(server_->port());
  client.send(bhttp::verb::post, "/big", std::string(1000, 'x'));
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "1000");
}

TEST_F(BodyLimitTest, DefaultLimitAppliesToOtherRoutes) {
  Client client(server_->port());
  client.send(bhttp::verb::post, "/other", std::string(17, 'x'));
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ(res->body(), "too large: /other");
  EXPECT_TRUE(handled().empty());
}

TEST_F(BodyLimitTest, ChunkedBodyOverTheLimitIs413) {
  Client client(server_->port());
  client.sendRaw(
      "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n");
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ(res->body(), "too large: /small");
  EXPECT_TRUE(handled().empty());
}

TEST_F(HttpServerTest, ChunkedRequestTrailersAreVisibleInTheFields) {
  start([](Request&& req, Responder responder) {
    auto type = req.find("Lambda-Runtime-Function-Error-Type");
    auto body = req.find("Lambda-Runtime-Function-Error-Body");
    std::string out = req.body() + "|" +
                      (type == req.end() ? "<absent>" : std::string(type->value())) + "|" +
                      (body == req.end() ? "<absent>" : std::string(body->value()));
    responder.send(makeResponse(req, bhttp::status::ok, "text/plain", std::move(out)));
  });
  Client client(server_->port());
  client.sendRaw(
      "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
      "\r\n"
      "5\r\nhello\r\n"
      "6\r\n world\r\n"
      "0\r\n"
      "Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n"
      "Lambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJ4In0=\r\n"
      "\r\n");
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "hello world|Runtime.StreamError|eyJlcnJvclR5cGUiOiJ4In0=");
}

TEST_F(HttpServerTest, StopClosesIdleConnections) {
  start([](Request&& req, Responder responder) {
    responder.send(makeResponse(req, bhttp::status::ok, "", "hi"));
  });
  Client client(server_->port());
  client.send(bhttp::verb::get, "/");
  ASSERT_TRUE(client.read().has_value());
  server_->stop();
  EXPECT_FALSE(client.read().has_value());  // closed at once (EOF, not the 5 s deadline)
}

TEST_F(HttpServerTest, StopLetsTheRequestInFlightFinishThenCloses) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::pair<Request, Responder>> parked;
  start([&](Request&& req, Responder responder) {
    std::lock_guard lock(mu);
    parked.emplace(std::move(req), std::move(responder));
    cv.notify_all();
  });
  Client client(server_->port());
  client.send(bhttp::verb::get, "/wait");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return parked.has_value(); }));
  }
  server_->stop();
  std::thread other([&] {
    std::lock_guard lock(mu);
    parked->second.send(makeResponse(parked->first, bhttp::status::ok, "", "drained"));
  });
  other.join();
  auto res = client.read();
  ASSERT_TRUE(res.has_value()) << res.error().context;
  EXPECT_EQ(res->body(), "drained");
  EXPECT_FALSE(res->keep_alive());           // Connection: close while stopping
  EXPECT_FALSE(client.read().has_value());  // then closed
}

TEST(HttpListenTest, BadAddressIsInvalidArgument) {
  asio::io_context io;
  auto server = Server::listen(io, "not-an-ip", 0, [](Request&&, Responder) {});
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(server.error().context, "bad listen address 'not-an-ip'");
}

TEST(ResponderTest, SendsOnceThroughTheSink) {
  int calls = 0;
  Responder responder([&calls](Response&& res) {
    ++calls;
    EXPECT_EQ(res.result_int(), 204);
  });
  Responder copy = responder;  // copies share one state
  copy.send(Response{bhttp::status::no_content, 11});
  responder.send(Response{bhttp::status::ok, 11});
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace kindling::http
