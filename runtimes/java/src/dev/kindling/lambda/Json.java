// kindling's Java runtime: small JSON helpers. Events and results go through AWS's own
// serialisation library (aws-lambda-java-serialization, shaded Jackson) or PlainJson, which
// gives the same bytes for plain values; the runtime's own few JSON needs (error bodies, the
// client-context/identity headers) are handled here.
// Threading: stateless, thread-safe.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.serialization.factories.JacksonFactory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

final class Json {
  private Json() {}

  /** Parses a JSON object (PlainJson, else Jackson); null for null/empty/invalid input or a non-object. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> parseObject(String json) {
    if (json == null || json.isEmpty()) return null;
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    Object plain = PlainJson.parse(bytes, 0, bytes.length, Map.class);
    if (plain != PlainJson.FALLBACK) return (Map<String, Object>) plain;
    try {
      Object v = JacksonFactory.getInstance().getMapper().readValue(json, Object.class);
      return v instanceof Map ? (Map<String, Object>) v : null;
    } catch (Exception e) {
      return null;
    }
  }

  static String str(Object o) {
    return o == null ? null : o.toString();
  }

  @SuppressWarnings("unchecked")
  static Map<String, String> stringMap(Object o) {
    if (!(o instanceof Map)) return null;
    Map<String, String> out = new HashMap<>();
    for (Map.Entry<String, Object> e : ((Map<String, Object>) o).entrySet()) {
      out.put(e.getKey(), str(e.getValue()));
    }
    return out;
  }

  /** Appends s as a JSON string literal (quotes included). */
  static void quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); ++i) {
      char c = s.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }
}
