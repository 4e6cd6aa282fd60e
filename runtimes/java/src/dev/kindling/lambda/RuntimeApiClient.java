// kindling's Java runtime: a minimal HTTP/1.1 client for the Lambda Runtime API (2018-06-01).
// One keep-alive TCP connection, requests strictly sequential. java.net.http.HttpClient would
// load a few hundred classes (and start a selector thread) before the first /next; a socket and
// a hand-rolled parser cost almost nothing at cold start.
// Threading: not thread-safe; only the runtime's main thread uses it.
package dev.kindling.lambda;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

final class RuntimeApiClient {
  static final String PREFIX = "/2018-06-01/runtime/";

  /** One HTTP response: status, lower-cased headers, body bytes [0, length). */
  static final class Response {
    int status;
    final Map<String, String> headers = new HashMap<>();
    byte[] body = new byte[0];
    int length;
  }

  private final String host;
  private final int port;
  private final String hostHeader;
  private Socket socket;
  private InputStream in;
  private OutputStream out;
  private final byte[] line = new byte[8192];

  RuntimeApiClient(String endpoint) {
    int colon = endpoint.lastIndexOf(':');
    this.host = colon > 0 ? endpoint.substring(0, colon) : endpoint;
    this.port = colon > 0 ? Integer.parseInt(endpoint.substring(colon + 1)) : 80;
    this.hostHeader = endpoint;
  }

  /** GET /runtime/invocation/next; blocks until the engine hands over an event. */
  Response next() throws IOException {
    return exchange("GET", PREFIX + "invocation/next", null, null, 0, 0);
  }

  /** POST /runtime/invocation/{id}/response with body[0, length). */
  void postResponse(String requestId, byte[] body, int length) throws IOException {
    expectAccepted(exchange("POST", PREFIX + "invocation/" + requestId + "/response", null, body, 0,
        length), "response");
  }

  /** POST /runtime/invocation/{id}/error with the error JSON. */
  void postError(String requestId, byte[] json, String errorType) throws IOException {
    expectAccepted(exchange("POST", PREFIX + "invocation/" + requestId + "/error", errorType, json,
        0, json.length), "error");
  }

  /** POST /runtime/init/error with the error JSON. */
  void postInitError(byte[] json, String errorType) throws IOException {
    expectAccepted(exchange("POST", PREFIX + "init/error", errorType, json, 0, json.length),
        "init/error");
  }

  private static void expectAccepted(Response r, String what) throws IOException {
    // 413 (payload too large) and 400 are answers the engine turns into the invoke's error;
    // anything else means the API is gone.
    if (r.status >= 500) throw new IOException("Runtime API " + what + ": HTTP " + r.status);
  }

  private Response exchange(String method, String path, String errorType, byte[] body, int off,
      int len) throws IOException {
    // A kept-alive connection may have been closed by the server between two requests: retry
    // once on a fresh one, but only when nothing of the answer was read.
    for (int attempt = 0; ; ++attempt) {
      if (socket == null) connect();
      try {
        writeRequest(method, path, errorType, body, off, len);
        return readResponse();
      } catch (IOException e) {
        close();
        if (attempt > 0) throw e;
      }
    }
  }

  private void connect() throws IOException {
    // Direct, as the Runtime API always is: a plain Socket wraps its implementation in the
    // SOCKS one, which consults the ProxySelector (classes and properties loaded at every cold
    // start), and a user's socksProxyHost would send the runtime's own requests through a proxy.
    Socket s = new Socket(Proxy.NO_PROXY);
    s.setTcpNoDelay(true);
    s.connect(new InetSocketAddress(host, port));
    socket = s;
    in = new BufferedInputStream(s.getInputStream(), 65536);
    out = s.getOutputStream();
  }

  private void close() {
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing a broken socket: nothing to report
      }
    }
    socket = null;
  }

  private void writeRequest(String method, String path, String errorType, byte[] body, int off,
      int len) throws IOException {
    StringBuilder head = new StringBuilder(160);
    head.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(hostHeader)
        .append("\r\nUser-Agent: kindling-java-runtime\r\n");
    if (errorType != null) {
      head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
    }
    if (body != null) {
      head.append("Content-Type: application/json\r\nContent-Length: ").append(len).append("\r\n");
    }
    head.append("\r\n");
    byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
    if (body != null && len <= 16384) {
      // One write (one TCP segment) for small requests.
      byte[] all = new byte[h.length + len];
      System.arraycopy(h, 0, all, 0, h.length);
      System.arraycopy(body, off, all, h.length, len);
      out.write(all);
    } else {
      out.write(h);
      if (body != null) out.write(body, off, len);
    }
    out.flush();
  }

  private Response readResponse() throws IOException {
    Response r = new Response();
    String status = readLine();
    if (status == null) throw new IOException("Runtime API closed the connection");
    int sp = status.indexOf(' ');
    if (sp < 0 || status.length() < sp + 4) throw new IOException("bad status line: " + status);
    r.status = Integer.parseInt(status.substring(sp + 1, sp + 4));
    for (String h; (h = readLine()) != null && !h.isEmpty(); ) {
      int colon = h.indexOf(':');
      if (colon > 0) {
        r.headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT),
            h.substring(colon + 1).trim());
      }
    }
    String te = r.headers.get("transfer-encoding");
    if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      for (;;) {
        String size = readLine();
        if (size == null) throw new IOException("truncated chunked body");
        int semi = size.indexOf(';');
        int n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
        if (n == 0) {
          while (true) {
            String trailer = readLine();
            if (trailer == null || trailer.isEmpty()) break;
          }
          break;
        }
        byte[] chunk = in.readNBytes(n);
        if (chunk.length != n) throw new IOException("truncated chunk");
        buf.write(chunk);
        readLine();
      }
      r.body = buf.toByteArray();
      r.length = r.body.length;
    } else {
      String cl = r.headers.get("content-length");
      int n = cl == null ? 0 : Integer.parseInt(cl);
      r.body = in.readNBytes(n);
      if (r.body.length != n) throw new IOException("truncated body");
      r.length = n;
    }
    String connection = r.headers.get("connection");
    if (connection != null && connection.equalsIgnoreCase("close")) close();
    return r;
  }

  // One CRLF-terminated header line (ISO-8859-1), or null at end of stream.
  private String readLine() throws IOException {
    int n = 0;
    for (;;) {
      int c = in.read();
      if (c < 0) return n == 0 ? null : new String(line, 0, n, StandardCharsets.ISO_8859_1);
      if (c == '\n') break;
      if (n < line.length) line[n++] = (byte) c;
    }
    if (n > 0 && line[n - 1] == '\r') --n;
    return new String(line, 0, n, StandardCharsets.ISO_8859_1);
  }
}
