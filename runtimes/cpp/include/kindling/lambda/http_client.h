// A minimal blocking HTTP/1.1 client over one raw POSIX TCP socket: the transport of the kindling
// C++ function SDK (runtime_client.h) and of the engine's test payload.
//
// Why not curl/Beast: the SDK's first user is the no-op function of the latency benchmark, so the
// client must cost next to nothing per request and must not drag shared libraries into a minimal
// sandbox root. Design:
//  - one persistent connection (keep-alive, TCP_NODELAY), reopened transparently when the server
//    closed an idle reused connection before answering (the request is then sent again once);
//  - a request is one sendmsg() of head + body iovecs (no copy of the body); the head is built in
//    a reused buffer, so steady state does no heap allocation;
//  - the response is parsed incrementally from one reused receive buffer: the head is scanned
//    only once, Content-Length bodies are returned in place, chunked bodies are de-chunked in
//    place (trailer fields are parsed and skipped); a body without either framing is read until
//    the server closes.
// Views in HttpResponse point into the receive buffer and stay valid until the next request.
// Not thread-safe: one client per thread.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kindling::lambda {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

// A response as parsed from the wire; every view points into the client's receive buffer.
struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // in wire order, names as received
  std::string_view body;            // de-chunked
  bool chunked = false;             // true if the body came with Transfer-Encoding: chunked

  // Case-insensitive lookup of the first header with this name; empty view if absent.
  // Thread-safe for concurrent readers.
  std::string_view header(std::string_view name) const;
};

// What failed: the step/syscall with its arguments, and errno (0 for protocol errors).
struct HttpError {
  std::string context;
  int sys_errno = 0;

  // "context: strerror(sys_errno)" (or just context).
  std::string message() const;
};

struct HttpRequest {
  std::string_view method{};  // "GET" / "POST"
  std::string_view target{};  // origin-form path, e.g. "/2018-06-01/runtime/invocation/next"
  std::span<const HttpHeader> headers{};  // extra request headers (Host/Content-Length are added)
  std::string_view body{};
  // 0: send the body with Content-Length. >0: Transfer-Encoding: chunked, chunks of at most
  // this many bytes, terminated by an empty trailer section.
  std::size_t chunk_size = 0;
  // With chunked framing: value of a "Trailer:" header declaring the (empty) trailer fields.
  std::string_view declared_trailers{};
};

// ASCII case-insensitive equality (HTTP header names). Thread-safe (pure).
bool iequalsAscii(std::string_view a, std::string_view b);

class HttpClient {
 public:
  // Resolves "host:port" (numeric or name) once. Connects lazily on the first request.
  // Returns false and fills `error` if the address cannot be resolved. Not thread-safe.
  bool init(std::string_view host_port, HttpError& error);

  HttpClient() = default;
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its full response into `response` (reused between calls, so its
  // header vector keeps its capacity). Returns false and fills lastError() on socket or protocol
  // failure. Blocks without timeout (the Runtime API /next is a long poll). Not thread-safe.
  bool request(const HttpRequest& request, HttpResponse& response);

  // The failure of the last request() that returned false. Not thread-safe.
  const HttpError& lastError() const { return error_; }

  // Number of TCP connections opened so far (keep-alive diagnostics). Not thread-safe.
  std::uint64_t connectionsOpened() const { return connections_opened_; }

 private:
  bool connectSocket();
  void closeSocket();
  bool sendRequest(const HttpRequest& request);
  bool sendAll(iovec* iov, std::size_t count);
  // Reads the response; *no_bytes is set when the connection ended before any response byte.
  bool readResponse(HttpResponse& response, bool& no_bytes);
  // Reads more bytes into the buffer (growing it); 0 on orderly EOF, -1 on error.
  long fill();
  void reserve(std::size_t needed);
  bool fail(std::string context, int sys_errno);

  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  std::string host_header_;  // "host:port" as given, for the Host header

  int fd_ = -1;
  std::uint64_t requests_on_connection_ = 0;
  std::uint64_t connections_opened_ = 0;

  std::string head_;                   // request head, reused
  std::string chunk_lines_;            // chunk-size lines of a chunked request, reused
  std::vector<iovec> iov_;             // reused
  std::unique_ptr<char[]> buf_;        // receive buffer
  std::size_t cap_ = 0;                // allocated size of buf_
  std::size_t begin_ = 0;              // first unconsumed byte (start of the next response)
  std::size_t end_ = 0;                // end of received data
  struct Span {
    std::uint32_t name_off, name_len, value_off, value_len;
  };
  std::vector<Span> spans_;            // header offsets while the buffer may still move

  HttpError error_;
};

}  // namespace kindling::lambda
