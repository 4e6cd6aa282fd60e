// kindling's Java runtime: the Context handed to handlers, filled from the /next headers and the
// environment, plus the LambdaLogger (stdout, as AWS's text log format: the message as given).
// Threading: one context per invocation; the logger is thread-safe (PrintStream locks).
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

final class InvocationContext implements Context {
  /** Values that are the same for every invocation of this environment. */
  static final class Static {
    final String functionName = env("AWS_LAMBDA_FUNCTION_NAME");
    final String functionVersion = env("AWS_LAMBDA_FUNCTION_VERSION");
    final String logGroupName = env("AWS_LAMBDA_LOG_GROUP_NAME");
    final String logStreamName = env("AWS_LAMBDA_LOG_STREAM_NAME");
    final int memoryLimitMb = parseInt(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 128);
    final Logger logger = new Logger(System.out);

    private static String env(String key) {
      String v = System.getenv(key);
      return v == null ? "" : v;
    }

    private static int parseInt(String s, int fallback) {
      try {
        return Integer.parseInt(s);
      } catch (NumberFormatException e) {
        return fallback;
      }
    }
  }

  /** LambdaLogger writing to stdout; the engine's log pipe captures it. */
  static final class Logger implements LambdaLogger {
    private final PrintStream out;

    Logger(PrintStream out) {
      this.out = out;
    }

    @Override
    public void log(String message) {
      out.print(message);
      out.flush();
    }

    @Override
    public void log(byte[] message) {
      out.write(message, 0, message.length);
      out.flush();
    }

    @Override
    public void log(String message, LogLevel level) {
      log(message);
    }

    @Override
    public void log(byte[] message, LogLevel level) {
      log(message);
    }
  }

  private final Static fixed;
  private final String requestId;
  private final String invokedFunctionArn;
  private final long deadlineMs;
  private final String traceId;
  private final String tenantId;
  private final ClientContext clientContext;
  private final CognitoIdentity identity;

  InvocationContext(Static fixed, Map<String, String> headers) {
    this.fixed = fixed;
    this.requestId = headers.getOrDefault("lambda-runtime-aws-request-id", "");
    this.invokedFunctionArn = headers.getOrDefault("lambda-runtime-invoked-function-arn", "");
    long deadline;
    try {
      deadline = Long.parseLong(headers.getOrDefault("lambda-runtime-deadline-ms", "0"));
    } catch (NumberFormatException e) {
      deadline = 0;
    }
    this.deadlineMs = deadline;
    this.traceId = headers.get("lambda-runtime-trace-id");
    this.tenantId = headers.get("lambda-runtime-aws-tenant-id");
    this.clientContext = parseClientContext(headers.get("lambda-runtime-client-context"));
    this.identity = parseIdentity(headers.get("lambda-runtime-cognito-identity"));
  }

  String traceId() {
    return traceId;
  }

  @Override public String getAwsRequestId() { return requestId; }
  @Override public String getLogGroupName() { return fixed.logGroupName; }
  @Override public String getLogStreamName() { return fixed.logStreamName; }
  @Override public String getFunctionName() { return fixed.functionName; }
  @Override public String getFunctionVersion() { return fixed.functionVersion; }
  @Override public String getInvokedFunctionArn() { return invokedFunctionArn; }
  @Override public CognitoIdentity getIdentity() { return identity; }
  @Override public ClientContext getClientContext() { return clientContext; }
  @Override public int getMemoryLimitInMB() { return fixed.memoryLimitMb; }
  @Override public LambdaLogger getLogger() { return fixed.logger; }
  @Override public String getXrayTraceId() { return traceId; }
  @Override public String getTenantId() { return tenantId; }

  @Override
  public int getRemainingTimeInMillis() {
    long left = deadlineMs - System.currentTimeMillis();
    return (int) Math.max(0, Math.min(Integer.MAX_VALUE, left));
  }

  // The Cognito identity header: {"cognitoIdentityId": ..., "cognitoIdentityPoolId": ...}.
  private static CognitoIdentity parseIdentity(String json) {
    final Map<String, Object> m = Json.parseObject(json);
    final String id = m == null ? null : Json.str(m.get("cognitoIdentityId"));
    final String pool = m == null ? null : Json.str(m.get("cognitoIdentityPoolId"));
    if (id == null && pool == null) return null;
    return new CognitoIdentity() {
      @Override public String getIdentityId() { return id; }
      @Override public String getIdentityPoolId() { return pool; }
    };
  }

  // The client context header: {"client": {...}, "custom": {...}, "env": {...}}.
  @SuppressWarnings("unchecked")
  private static ClientContext parseClientContext(String json) {
    final Map<String, Object> m = Json.parseObject(json);
    if (m == null) return null;
    final Map<String, Object> c = m.get("client") instanceof Map ? (Map<String, Object>) m.get("client") : null;
    final Map<String, String> custom = Json.stringMap(m.get("custom"));
    final Map<String, String> environment = Json.stringMap(m.get("env"));
    final Client client = c == null ? null : new Client() {
      @Override public String getInstallationId() { return Json.str(c.get("installation_id")); }
      @Override public String getAppTitle() { return Json.str(c.get("app_title")); }
      @Override public String getAppVersionName() { return Json.str(c.get("app_version_name")); }
      @Override public String getAppVersionCode() { return Json.str(c.get("app_version_code")); }
      @Override public String getAppPackageName() { return Json.str(c.get("app_package_name")); }
    };
    return new ClientContext() {
      @Override public Client getClient() { return client; }
      @Override public Map<String, String> getCustom() { return custom; }
      @Override public Map<String, String> getEnvironment() { return environment; }
    };
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
