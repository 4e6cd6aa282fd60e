// kindling's Java runtime: the entry point the engine starts for java17/java25 functions.
// Loads the handler named by _HANDLER (init phase: class loading and static initialisation run
// here, before the first /next, so "initialise outside the handler" pays off as on AWS), then
// loops: /next -> handler -> /response or /error. Errors are reported in AWS's Java shape
// (ErrorReport); an init failure goes to /init/error and the process exits 1.
// Threading: single-threaded; handlers may start their own threads.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;

public final class Bootstrap {
  private Bootstrap() {}

  // Lambda-Runtime-Function-Error-Type of a handler's exception, as the official client sends.
  private static final String USER_ERROR_TYPE = "Runtime.UserException";

  // KINDLING_JAVA_TRAINING=1: init only, then CdsTraining, then exit 0 (never calls /next).
  private static final String TRAINING_ENV = "KINDLING_JAVA_TRAINING";
  private static final String TRAINING_VALUE = "1";

  /** Growable response buffer whose bytes are posted without a copy. */
  private static final class Buffer extends ByteArrayOutputStream {
    Buffer() {
      super(8192);
    }

    byte[] bytes() {
      return buf;
    }
  }

  public static void main(String[] args) {
    if (args.length == 1 && args[0].equals("--cds-training")) {
      try {
        CdsTraining.run();
      } catch (Throwable t) {
        t.printStackTrace();
        System.exit(1);
      }
      return;
    }
    String endpoint = System.getenv("AWS_LAMBDA_RUNTIME_API");
    if (endpoint == null || endpoint.isEmpty()) {
      System.err.println("kindling java runtime: AWS_LAMBDA_RUNTIME_API is not set");
      System.exit(2);
    }
    RuntimeApiClient client = new RuntimeApiClient(endpoint);
    InvocationContext.Static fixed = new InvocationContext.Static();
    setRuntimeLogger(fixed.logger);

    Handler handler;
    try {
      String taskRoot = System.getenv().getOrDefault("LAMBDA_TASK_ROOT", "/var/task");
      String optDir = System.getenv().getOrDefault("KINDLING_OPT_DIR", "/opt");
      ClassLoader loader = Handler.functionClassLoader(taskRoot, optDir);
      Thread.currentThread().setContextClassLoader(loader);
      String spec = args.length > 0 ? args[0] : System.getenv("_HANDLER");
      handler = Handler.load(spec, loader);
      if (TRAINING_VALUE.equals(System.getenv(TRAINING_ENV))) {
        // A training run for a per-function class-data archive (docs/runtimes.md, "Java
        // cold start"): the function's init is done; the runtime's invocation paths are
        // walked without the user's handler, and the JVM writes the archive as it exits.
        CdsTraining.run();
        System.exit(0);
      }
    } catch (Handler.InitError e) {
      String json = e.getCause() != null ? withMessage(e) : ErrorReport.simple(e.errorType, e.getMessage());
      reportInitError(client, json, e.errorType);
      return;
    } catch (Throwable t) {
      reportInitError(client, ErrorReport.toJson(t), t.getClass().getName());
      return;
    }

    Buffer out = new Buffer();
    for (;;) {
      RuntimeApiClient.Response next;
      try {
        next = client.next();
      } catch (IOException e) {
        System.err.println("kindling java runtime: /next failed: " + e);
        System.exit(1);
        return;
      }
      if (next.status != 200) {
        System.err.println("kindling java runtime: /next answered HTTP " + next.status);
        System.exit(1);
      }
      InvocationContext ctx = new InvocationContext(fixed, next.headers);
      String traceId = ctx.traceId();
      if (traceId != null) {
        System.setProperty("com.amazonaws.xray.traceHeader", traceId);
      } else {
        System.clearProperty("com.amazonaws.xray.traceHeader");
      }
      String requestId = ctx.getAwsRequestId();
      out.reset();
      Throwable failure = null;
      try {
        handler.invoke(next.body, next.length, out, ctx);
      } catch (Throwable t) {
        failure = t;
      }
      System.out.flush();
      System.err.flush();
      try {
        if (failure == null) {
          client.postResponse(requestId, out.bytes(), out.size());
        } else {
          String json = ErrorReport.toJson(failure);
          // AWS's Java runtime logs the error JSON to the function's log as well.
          System.err.println(json);
          System.err.flush();
          client.postError(requestId, InvocationContext.utf8(json), USER_ERROR_TYPE);
          if (failure instanceof VirtualMachineError) {
            // The JVM may be unusable (OutOfMemoryError, StackOverflowError deep in a library):
            // end the environment as AWS does; the next invoke starts a fresh one.
            System.exit(1);
          }
        }
      } catch (IOException e) {
        System.err.println("kindling java runtime: posting the result of " + requestId
            + " failed: " + e);
        System.exit(1);
      }
    }
  }

  // The init error JSON: AWS's message on top, the underlying exception's trace below.
  private static String withMessage(Handler.InitError e) {
    String cause = ErrorReport.toJson(e.getCause());
    StringBuilder b = new StringBuilder(cause.length() + 128);
    b.append("{\"errorMessage\":");
    Json.quote(b, e.getMessage());
    b.append(",\"errorType\":");
    Json.quote(b, e.errorType);
    // Splice the cause's stack trace (and its own cause) in after our message and type.
    int trace = cause.indexOf("\"stackTrace\":");
    b.append(',').append(cause, trace, cause.length());
    return b.toString();
  }

  private static void reportInitError(RuntimeApiClient client, String json, String errorType) {
    System.err.println(json);
    System.err.flush();
    try {
      client.postInitError(InvocationContext.utf8(json), errorType);
    } catch (IOException e) {
      System.err.println("kindling java runtime: posting /init/error failed: " + e);
    }
    System.exit(1);
  }

  // LambdaRuntime.getLogger() is filled by the runtime (a private static field in
  // aws-lambda-java-core, set by reflection as AWS's runtime does).
  static void setRuntimeLogger(LambdaLogger logger) {
    try {
      Field f = LambdaRuntime.class.getDeclaredField("logger");
      f.setAccessible(true);
      f.set(null, logger);
    } catch (ReflectiveOperationException | RuntimeException ignored) {
      // an aws-lambda-java-core without the field: getLogger() keeps its default (stdout)
    }
  }
}
