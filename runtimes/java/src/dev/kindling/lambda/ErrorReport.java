// kindling's Java runtime: turns a Throwable into the error JSON AWS's Java runtime sends:
// {"errorMessage": ..., "errorType": <exception class>, "stackTrace": [StackTraceElement
// strings, "java.base/..." module prefixes included], "cause": {...}}. As the official runtime
// interface client (2.10.1, observed against the fake Runtime API) does, the trace stops where
// the runtime's own frames begin; the reflective frames that called the handler stay.
// Threading: stateless, thread-safe.
package dev.kindling.lambda;

import java.util.IdentityHashMap;
import java.util.Map;

final class ErrorReport {
  private ErrorReport() {}

  private static final String RUNTIME_PACKAGE = "dev.kindling.lambda.";

  /** The error JSON of t (and its causes). */
  static String toJson(Throwable t) {
    StringBuilder out = new StringBuilder(512);
    append(out, t, new IdentityHashMap<>());
    return out.toString();
  }

  /** {"errorMessage","errorType"} without a stack trace (runtime faults). */
  static String simple(String errorType, String message) {
    StringBuilder out = new StringBuilder(128);
    out.append("{\"errorMessage\":");
    Json.quote(out, message);
    out.append(",\"errorType\":");
    Json.quote(out, errorType);
    out.append('}');
    return out.toString();
  }

  private static void append(StringBuilder out, Throwable t, Map<Throwable, Boolean> seen) {
    seen.put(t, Boolean.TRUE);
    out.append('{');
    String message = t.getLocalizedMessage();
    if (message != null) {
      out.append("\"errorMessage\":");
      Json.quote(out, message);
      out.append(',');
    }
    out.append("\"errorType\":");
    Json.quote(out, t.getClass().getName());
    out.append(",\"stackTrace\":[");
    boolean first = true;
    for (StackTraceElement e : t.getStackTrace()) {
      String cls = e.getClassName();
      if (cls.startsWith(RUNTIME_PACKAGE)) break;  // the runtime's own frames and below
      if (!first) out.append(',');
      first = false;
      Json.quote(out, e.toString());
    }
    out.append(']');
    Throwable cause = t.getCause();
    if (cause != null && !seen.containsKey(cause)) {
      out.append(",\"cause\":");
      append(out, cause, seen);
    }
    out.append('}');
  }
}
