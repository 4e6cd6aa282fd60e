// kindling's Java runtime: the workload runtimes/java/build.sh runs once per JDK with
// -XX:ArchiveClassesAtExit to write an application class-data-sharing archive of the runtime
// (and of the shaded Jackson it uses for POJO events), which the engine passes with
// -XX:SharedArchiveFile: the classes are then mapped instead of parsed and verified at every
// cold start. It walks the paths a real invocation takes: loading a handler through the
// function class loader, (de)serialising a Map, a POJO list and a string, an error report.
// Threading: single-threaded, runs in its own JVM and exits.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
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

  static void run() throws Throwable {
    Path empty = Files.createTempDirectory("kindling-cds");
    try {
      ClassLoader loader = Handler.functionClassLoader(empty.toString(), empty.toString());
      Map<String, String> headers = new HashMap<>();
      headers.put("lambda-runtime-aws-request-id", "training");
      headers.put("lambda-runtime-deadline-ms", Long.toString(System.currentTimeMillis() + 1000));
      headers.put("lambda-runtime-client-context", "{\"custom\":{\"k\":\"v\"},\"env\":{},\"client\":{}}");
      headers.put("lambda-runtime-cognito-identity", "{\"cognitoIdentityId\":\"i\"}");
      InvocationContext ctx = new InvocationContext(new InvocationContext.Static(), headers);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      Handler.load(CdsTraining.class.getName(), loader)
          .invoke(input("{\"name\":\"cds\",\"n\":[1,2.5,true,null]}"), out, ctx);
      Handler.load(ListHandler.class.getName() + "::handleRequest", loader)
          .invoke(input("[{\"id\":\"a\",\"value\":1.5,\"tags\":[\"x\"]}]"), out, ctx);
      ErrorReport.toJson(new IllegalStateException("training", new RuntimeException("cause")));
      try {
        Handler.load("no.such.Class", loader);
      } catch (Handler.InitError expected) {
        ErrorReport.simple(expected.errorType, expected.getMessage());
      }
    } finally {
      Files.deleteIfExists(empty);
    }
  }

  private static ByteArrayInputStream input(String json) {
    return new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8));
  }
}
