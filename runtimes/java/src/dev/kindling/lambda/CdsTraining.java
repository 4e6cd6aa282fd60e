// kindling's Java runtime: the workload runtimes/java/build.sh runs once per JDK with
// -XX:ArchiveClassesAtExit to write an application class-data-sharing archive of the runtime
// (and of the shaded Jackson it uses for POJO events), which the engine passes with
// -XX:SharedArchiveFile: the classes are then mapped instead of parsed and verified at every
// cold start. It walks the paths a real invocation takes: loading a handler through the
// function class loader, defining a class from a task-root directory, (de)serialising a Map
// (PlainJson and Jackson) and a POJO list, an error report, and a /next + /response exchange
// with a loopback stand-in for the Runtime API (the socket classes). Bootstrap also runs it
// after a function's own init in a per-function training run (KINDLING_JAVA_TRAINING=1).
// Threading: runs in its own JVM and exits; the stand-in server is one short-lived thread.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class CdsTraining implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  /** A POJO as users write them: public fields and a default constructor. */
  public static final class Item {
    public String id;
    public double value;
    public List<String> tags;
  }

  /** A handler over a POJO list, to exercise generic collection types. */
  public static final class ListHandler implements RequestHandler<List<Item>, String> {
    @Override
    public String handleRequest(List<Item> items, Context context) {
      return items.size() + " items";
    }
  }

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Map<String, Object> out = new HashMap<>();
    out.put("message", "Hello, " + event.get("name") + "!");
    out.put("request_id", context.getAwsRequestId());
    return out;
  }

  /** A class without dependencies, defined from a directory as user classes in /var/task are. */
  static final class Probe {}

  static void run() throws Throwable {
    Path empty = Files.createTempDirectory("kindling-cds");
    Path probe = empty.resolve(Probe.class.getName().replace('.', '/') + ".class");
    try {
      ClassLoader loader = Handler.functionClassLoader(empty.toString(), empty.toString());
      // A class defined from a file: URL (URLClassPath$FileLoader, CodeSource, permissions):
      // a loader whose parent cannot see the runtime, over a copy of Probe's bytes.
      try (InputStream in = CdsTraining.class.getResourceAsStream("CdsTraining$Probe.class")) {
        Files.createDirectories(probe.getParent());
        Files.write(probe, in.readAllBytes());
      }
      try (URLClassLoader files = new URLClassLoader(new URL[] {empty.toUri().toURL()},
          ClassLoader.getPlatformClassLoader())) {
        Class.forName(Probe.class.getName(), true, files);
      }
      runtimeApiExchange();
      Map<String, String> headers = new HashMap<>();
      headers.put("lambda-runtime-aws-request-id", "training");
      headers.put("lambda-runtime-deadline-ms", Long.toString(System.currentTimeMillis() + 1000));
      headers.put("lambda-runtime-client-context", "{\"custom\":{\"k\":\"v\"},\"env\":{},\"client\":{}}");
      headers.put("lambda-runtime-cognito-identity", "{\"cognitoIdentityId\":\"i\"}");
      InvocationContext.Static fixed = new InvocationContext.Static();
      Bootstrap.setRuntimeLogger(fixed.logger);  // LambdaRuntime and its reflective access
      InvocationContext ctx = new InvocationContext(fixed, headers);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      Handler map = Handler.load(CdsTraining.class.getName(), loader);
      // The plain-JSON fast path, then Jackson for the same types (a value PlainJson leaves
      // to it: duplicate keys), so both paths' classes are in the archive.
      invoke(map, "{\"name\":\"cds\",\"n\":[1,2.5,true,null,\"\\u00e9\"]}", out, ctx);
      invoke(map, "{\"name\":\"cds\",\"name\":\"dup\"}", out, ctx);
      invoke(Handler.load(ListHandler.class.getName() + "::handleRequest", loader),
          "[{\"id\":\"a\",\"value\":1.5,\"tags\":[\"x\"]}]", out, ctx);
      ErrorReport.toJson(new IllegalStateException("training", new RuntimeException("cause")));
      try {
        Handler.load("no.such.Class", loader);
      } catch (Handler.InitError expected) {
        ErrorReport.simple(expected.errorType, expected.getMessage());
      }
    } finally {
      for (Path p = probe; p != null && p.startsWith(empty); p = p.getParent()) {
        Files.deleteIfExists(p);
      }
    }
  }

  // One /next and one /response through RuntimeApiClient against a loopback server that
  // answers like the engine (an event, then 202).
  private static void runtimeApiExchange() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Thread engine = new Thread(() -> {
        try (Socket s = server.accept()) {
          BufferedInputStream in = new BufferedInputStream(s.getInputStream());
          OutputStream out = s.getOutputStream();
          skipRequest(in);
          byte[] event = "{\"name\":\"cds\"}".getBytes(StandardCharsets.UTF_8);
          out.write(("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: training\r\n"
              + "Lambda-Runtime-Deadline-Ms: 0\r\nContent-Type: application/json\r\n"
              + "Content-Length: " + event.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.write(event);
          out.flush();
          skipRequest(in);
          out.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
              .getBytes(StandardCharsets.ISO_8859_1));
          out.flush();
        } catch (IOException ignored) {
          // the client side reports the failure
        }
      }, "kindling-cds-engine");
      engine.setDaemon(true);
      engine.start();
      RuntimeApiClient client = new RuntimeApiClient("127.0.0.1:" + server.getLocalPort());
      RuntimeApiClient.Response next = client.next();
      client.postResponse("training", next.body, next.length);
      engine.join(5000);
    }
  }

  // Reads one request's head and its Content-Length body.
  private static void skipRequest(InputStream in) throws IOException {
    int length = 0;
    StringBuilder line = new StringBuilder();
    for (int c; (c = in.read()) >= 0; ) {
      if (c != '\n') {
        if (c != '\r') line.append((char) c);
        continue;
      }
      if (line.length() == 0) break;
      String h = line.toString().toLowerCase(java.util.Locale.ROOT);
      if (h.startsWith("content-length:")) length = Integer.parseInt(h.substring(15).trim());
      line.setLength(0);
    }
    in.readNBytes(length);
  }

  private static void invoke(Handler h, String json, ByteArrayOutputStream out, Context ctx)
      throws Throwable {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    out.reset();
    h.invoke(body, body.length, out, ctx);
  }
}
