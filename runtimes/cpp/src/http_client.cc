#include "kindling/lambda/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

namespace kindling::lambda {
namespace {

constexpr std::size_t kInitialBuffer = 64 * 1024;
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr std::uint64_t kMaxChunkBytes = 1ull << 32;
constexpr std::size_t kMaxIovPerSend = 1024;  // IOV_MAX on Linux
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True if the comma-separated token list `list` contains `token` (case-insensitive).
bool listHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = trimOws(list.substr(0, comma));
    if (iequalsAscii(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// The last entry of a comma-separated list (the final transfer coding).
std::string_view lastToken(std::string_view list) {
  std::size_t comma = list.rfind(',');
  return trimOws(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

bool parseDecimal(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return ec == std::errc() && ptr == s.data() + s.size();
}

void appendDecimal(std::string& out, std::uint64_t value) {
  char digits[24];
  auto [ptr, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;  // cannot fail for a 64-bit value in 24 bytes
  out.append(digits, ptr);
}

}  // namespace

bool iequalsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view HttpResponse::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (iequalsAscii(h.name, name)) return h.value;
  }
  return {};
}

std::string HttpError::message() const {
  if (sys_errno == 0) return context;
  return context + ": " + std::strerror(sys_errno);
}

HttpClient::~HttpClient() { closeSocket(); }

bool HttpClient::init(std::string_view host_port, HttpError& error) {
  std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == host_port.size()) {
    error = {"runtime API address '" + std::string(host_port) + "' is not host:port", 0};
    return false;
  }
  std::string host(host_port.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]:9001"
  }
  std::string port(host_port.substr(colon + 1));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    error = {"getaddrinfo('" + std::string(host_port) + "'): " + gai_strerror(rc), 0};
    return false;
  }
  std::memcpy(&addr_, result->ai_addr, result->ai_addrlen);
  addr_len_ = result->ai_addrlen;
  freeaddrinfo(result);
  host_header_ = std::string(host_port);
  head_.reserve(512);
  iov_.reserve(8);
  spans_.reserve(16);
  buf_ = std::make_unique_for_overwrite<char[]>(kInitialBuffer);
  cap_ = kInitialBuffer;
  return true;
}

bool HttpClient::fail(std::string context, int sys_errno) {
  error_.context = std::move(context);
  error_.sys_errno = sys_errno;
  return false;
}

bool HttpClient::connectSocket() {
  int fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket()", errno);
  int one = 1;
  // Requests are written with one sendmsg(); Nagle would only delay the small ones.
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    int err = errno;
    ::close(fd);
    return fail("setsockopt(TCP_NODELAY)", err);
  }
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return fail("connect(" + host_header_ + ")", err);
  }
  fd_ = fd;
  requests_on_connection_ = 0;
  ++connections_opened_;
  // Bytes left from the previous connection belong to nothing; the memory stays untouched until
  // the next read, so views handed out earlier (e.g. an event being echoed) remain valid.
  begin_ = end_ = 0;
  return true;
}

void HttpClient::closeSocket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpClient::request(const HttpRequest& request, HttpResponse& response) {
  for (int attempt = 0;; ++attempt) {
    if (fd_ < 0 && !connectSocket()) return false;
    bool reused = requests_on_connection_ > 0;
    ++requests_on_connection_;
    bool no_bytes = false;
    bool sent = sendRequest(request);
    if (sent && readResponse(response, no_bytes)) return true;
    closeSocket();
    // A reused keep-alive connection may have been closed by the server while idle: the request
    // never reached it, so sending it once more on a fresh connection is safe.
    if (!(reused && attempt == 0 && (!sent || no_bytes))) return false;
  }
}

bool HttpClient::sendRequest(const HttpRequest& request) {
  head_.clear();
  head_.append(request.method).append(" ").append(request.target);
  head_.append(" HTTP/1.1\r\nHost: ").append(host_header_).append(kCrlf);
  for (const HttpHeader& h : request.headers) {
    head_.append(h.name).append(": ").append(h.value).append(kCrlf);
  }
  iov_.clear();
  if (request.chunk_size == 0) {
    if (!request.body.empty() || request.method != "GET") {
      head_.append("Content-Length: ");
      appendDecimal(head_, request.body.size());
      head_.append(kCrlf);
    }
    head_.append(kCrlf);
    iov_.push_back({head_.data(), head_.size()});
    if (!request.body.empty()) {
      iov_.push_back({const_cast<char*>(request.body.data()), request.body.size()});
    }
    return sendAll(iov_.data(), iov_.size());
  }

  head_.append("Transfer-Encoding: chunked\r\n");
  if (!request.declared_trailers.empty()) {
    head_.append("Trailer: ").append(request.declared_trailers).append(kCrlf);
  }
  head_.append(kCrlf);
  // Chunk-size lines first (the string may reallocate while growing), then the iovecs.
  chunk_lines_.clear();
  std::size_t chunks = (request.body.size() + request.chunk_size - 1) / request.chunk_size;
  for (std::size_t i = 0; i < chunks; ++i) {
    std::size_t len = std::min(request.chunk_size, request.body.size() - i * request.chunk_size);
    char hex[20];
    auto [ptr, ec] = std::to_chars(hex, hex + sizeof hex, len, 16);
    (void)ec;
    chunk_lines_.append(hex, ptr).append(kCrlf);
  }
  iov_.push_back({head_.data(), head_.size()});
  std::size_t line_off = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    std::size_t len = std::min(request.chunk_size, request.body.size() - i * request.chunk_size);
    std::size_t line_len = chunk_lines_.find('\n', line_off) + 1 - line_off;
    iov_.push_back({chunk_lines_.data() + line_off, line_len});
    iov_.push_back({const_cast<char*>(request.body.data()) + i * request.chunk_size, len});
    iov_.push_back({const_cast<char*>(kCrlf.data()), kCrlf.size()});
    line_off += line_len;
  }
  iov_.push_back({const_cast<char*>(kLastChunk.data()), kLastChunk.size()});
  return sendAll(iov_.data(), iov_.size());
}

bool HttpClient::sendAll(iovec* iov, std::size_t count) {
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = std::min(count, kMaxIovPerSend);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("sendmsg(" + host_header_ + ")", errno);
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

void HttpClient::reserve(std::size_t needed) {
  if (needed <= cap_) return;
  std::size_t cap = std::max(needed, cap_ * 2);
  auto grown = std::make_unique_for_overwrite<char[]>(cap);
  std::memcpy(grown.get(), buf_.get(), end_);
  buf_ = std::move(grown);
  cap_ = cap;
}

long HttpClient::fill() {
  if (end_ == cap_) reserve(cap_ * 2);
  for (;;) {
    ssize_t n = ::recv(fd_, buf_.get() + end_, cap_ - end_, 0);
    if (n >= 0) {
      end_ += static_cast<std::size_t>(n);
      return static_cast<long>(n);
    }
    if (errno != EINTR) {
      fail("recv(" + host_header_ + ")", errno);
      return -1;
    }
  }
}

bool HttpClient::readResponse(HttpResponse& response, bool& no_bytes) {
  // Responses always start at offset 0: move any leftover bytes to the front.
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  no_bytes = end_ == 0;

  std::size_t head_end = 0;  // offset just past the blank line ending the head
  std::size_t scanned = 0;
  for (;;) {
    // Locate the end of the head, scanning each received byte once.
    for (;;) {
      std::size_t from = scanned >= 3 ? scanned - 3 : 0;
      const void* hit = (end_ > from) ? ::memmem(buf_.get() + from, end_ - from, "\r\n\r\n", 4)
                                      : nullptr;
      if (hit != nullptr) {
        head_end = static_cast<std::size_t>(static_cast<const char*>(hit) - buf_.get()) + 4;
        break;
      }
      scanned = end_;
      if (end_ > kMaxHeadBytes) return fail("response head exceeds 64 KiB", 0);
      long n = fill();
      if (n < 0) return false;
      if (n == 0) return fail(no_bytes ? "connection closed before the response"
                                       : "connection closed inside the response head",
                              no_bytes ? ECONNRESET : 0);
      no_bytes = false;
    }
    // An interim 1xx response (other than 101) precedes the real one: drop it.
    if (head_end >= 12 && buf_[9] == '1' && !(buf_[10] == '0' && buf_[11] == '1')) {
      std::memmove(buf_.get(), buf_.get() + head_end, end_ - head_end);
      end_ -= head_end;
      scanned = 0;
      continue;
    }
    break;
  }

  // Status line: HTTP/1.x SSS reason
  const char* base = buf_.get();
  std::string_view head(base, head_end - 2);
  std::size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return fail("malformed status line '" + std::string(status_line.substr(0, 64)) + "'", 0);
  }
  bool http10 = status_line[7] == '0';
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    char c = status_line[i];
    if (c < '0' || c > '9') return fail("malformed status code", 0);
    status = status * 10 + (c - '0');
  }

  spans_.clear();
  std::uint64_t content_length = 0;
  bool has_length = false;
  bool chunked = false;
  bool close_after = http10;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0 && line[0] != ' ' && line[0] != '\t') {
      std::string_view name = line.substr(0, colon);
      std::string_view value = trimOws(line.substr(colon + 1));
      spans_.push_back({static_cast<std::uint32_t>(name.data() - base),
                        static_cast<std::uint32_t>(name.size()),
                        static_cast<std::uint32_t>(value.data() - base),
                        static_cast<std::uint32_t>(value.size())});
      if (iequalsAscii(name, "Content-Length")) {
        if (!parseDecimal(value, content_length)) return fail("malformed Content-Length", 0);
        has_length = true;
      } else if (iequalsAscii(name, "Transfer-Encoding")) {
        chunked = iequalsAscii(lastToken(value), "chunked");
      } else if (iequalsAscii(name, "Connection")) {
        if (listHasToken(value, "close")) close_after = true;
        if (listHasToken(value, "keep-alive")) close_after = false;
      }
    }
    pos = eol + 2;
  }

  std::size_t body_begin = head_end;
  std::size_t body_end = head_end;
  std::size_t response_end = head_end;
  bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
  if (no_body) {
    // nothing
  } else if (chunked) {
    // De-chunk in place: chunk data is moved down to `body_end`, which never passes `pos`.
    std::size_t in = head_end;
    for (;;) {
      std::size_t eol;
      while ((eol = std::string_view(buf_.get() + in, end_ - in).find("\r\n")) ==
             std::string_view::npos) {
        if (end_ - in > 4096) return fail("malformed chunk-size line", 0);
        long n = fill();
        if (n <= 0) return n < 0 ? false : fail("connection closed inside a chunked body", 0);
      }
      std::string_view size_line(buf_.get() + in, eol);
      size_line = trimOws(size_line.substr(0, size_line.find(';')));
      std::uint64_t size = 0;
      auto [ptr, ec] =
          std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
      if (ec != std::errc() || ptr != size_line.data() + size_line.size() || size_line.empty() ||
          size > kMaxChunkBytes) {
        return fail("malformed chunk size '" + std::string(size_line.substr(0, 32)) + "'", 0);
      }
      in += eol + 2;
      if (size == 0) break;
      std::size_t need = in + size + 2;
      reserve(need);
      while (end_ < need) {
        long n = fill();
        if (n <= 0) return n < 0 ? false : fail("connection closed inside a chunked body", 0);
      }
      if (buf_[in + size] != '\r' || buf_[in + size + 1] != '\n') {
        return fail("chunk data not followed by CRLF", 0);
      }
      if (body_end != in) std::memmove(buf_.get() + body_end, buf_.get() + in, size);
      body_end += size;
      in = need;
    }
    // Trailer section: fields (ignored) up to an empty line.
    for (;;) {
      std::size_t eol;
      while ((eol = std::string_view(buf_.get() + in, end_ - in).find("\r\n")) ==
             std::string_view::npos) {
        if (end_ - in > kMaxHeadBytes) return fail("trailer section too large", 0);
        long n = fill();
        if (n <= 0) return n < 0 ? false : fail("connection closed inside the trailers", 0);
      }
      in += eol + 2;
      if (eol == 0) break;
    }
    response_end = in;
  } else if (has_length) {
    std::size_t need = head_end + content_length;
    reserve(need);
    while (end_ < need) {
      long n = fill();
      if (n <= 0) return n < 0 ? false : fail("connection closed inside the body", 0);
    }
    body_end = response_end = need;
  } else {
    // No framing: the body runs to the end of the connection.
    for (;;) {
      long n = fill();
      if (n < 0) return false;
      if (n == 0) break;
    }
    body_end = response_end = end_;
    close_after = true;
  }

  // The buffer can no longer move: turn offsets into views.
  base = buf_.get();
  response.status = status;
  response.chunked = chunked && !no_body;
  response.body = std::string_view(base + body_begin, body_end - body_begin);
  response.headers.clear();
  for (const Span& s : spans_) {
    response.headers.push_back({std::string_view(base + s.name_off, s.name_len),
                                std::string_view(base + s.value_off, s.value_len)});
  }
  begin_ = response_end;
  if (close_after) closeSocket();
  return true;
}

}  // namespace kindling::lambda
