// kindling's Java runtime: a fast path for handlers whose event or result type is plain JSON
// (Map<String, Object>, raw Map, Object, String: maps, lists, strings, numbers, booleans, null).
// Building AWS's Jackson ObjectMapper (aws-lambda-java-serialization's JacksonFactory) costs
// 60-130 ms of a cold start, more than the JVM's own start-up, and a class-data archive cannot
// save it (it is code running, not class loading: docs/runtimes.md, "Java cold start"). For
// plain values this class gives the values and bytes Jackson gives with AWS's settings (checked
// against Jackson by tests/integration/test_java_cds.py); anything else (a POJO, a date, a
// non-finite double, a lone surrogate, duplicate keys, JSON that is not strict) is left to
// Jackson: parse() returns FALLBACK and write() returns false, and the caller builds the Jackson
// serializer then.
// Threading: stateless, thread-safe.
package dev.kindling.lambda;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class PlainJson {
  private PlainJson() {}

  /** parse()'s answer when the input needs Jackson (not strict JSON, or not a plain value). */
  static final Object FALLBACK = new Object();

  private static final int MAX_DEPTH = 512;

  /**
   * The root class parse() and write() serve for a declared event or result type: Map.class
   * (raw Map or Map<String, Object>), Object.class or String.class; null for any other type.
   */
  static Class<?> plainRoot(Type type) {
    if (type == Object.class || type == Map.class || type == String.class) return (Class<?>) type;
    if (!(type instanceof ParameterizedType)) return null;
    ParameterizedType p = (ParameterizedType) type;
    if (p.getRawType() != Map.class) return null;
    Type[] args = p.getActualTypeArguments();
    return args.length == 2 && args[0] == String.class && isObjectOrWildcard(args[1])
        ? Map.class : null;
  }

  private static boolean isObjectOrWildcard(Type t) {
    if (t == Object.class) return true;
    if (!(t instanceof WildcardType)) return false;
    WildcardType w = (WildcardType) t;
    return w.getLowerBounds().length == 0
        && (w.getUpperBounds().length == 0 || w.getUpperBounds()[0] == Object.class);
  }

  // ---- reading ----------------------------------------------------------------------------

  /**
   * The event as Jackson reads it into `root` (plainRoot()): LinkedHashMap, ArrayList, String,
   * Integer/Long/BigInteger, Double, Boolean or null; a Map root must be a JSON object and a
   * String root a JSON string. FALLBACK when Jackson must decide (it may accept, coerce or
   * refuse with its own message).
   */
  static Object parse(byte[] buf, int off, int len, Class<?> root) {
    Reader r = new Reader(buf, off, off + len);
    try {
      r.skipSpace();
      if (r.pos >= r.end) return FALLBACK;
      byte first = buf[r.pos];
      if ((root == Map.class && first != '{') || (root == String.class && first != '"')) {
        return FALLBACK;
      }
      Object v = r.value(0);
      r.skipSpace();
      return r.pos == r.end ? v : FALLBACK;
    } catch (NotPlain e) {
      return FALLBACK;
    }
  }

  /** Thrown inside the reader/writer when the input is not for the fast path; no stack. */
  private static final class NotPlain extends Exception {
    private static final long serialVersionUID = 1L;
    static final NotPlain INSTANCE = new NotPlain();

    private NotPlain() {
      super(null, null, false, false);
    }
  }

  private static final class Reader {
    final byte[] b;
    int pos;
    final int end;

    Reader(byte[] b, int pos, int end) {
      this.b = b;
      this.pos = pos;
      this.end = end;
    }

    void skipSpace() {
      while (pos < end) {
        byte c = b[pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
        ++pos;
      }
    }

    Object value(int depth) throws NotPlain {
      if (pos >= end || depth > MAX_DEPTH) throw NotPlain.INSTANCE;
      switch (b[pos]) {
        case '{':
          return object(depth + 1);
        case '[':
          return array(depth + 1);
        case '"':
          return string();
        case 't':
          literal("true");
          return Boolean.TRUE;
        case 'f':
          literal("false");
          return Boolean.FALSE;
        case 'n':
          literal("null");
          return null;
        default:
          return number();
      }
    }

    void literal(String word) throws NotPlain {
      if (end - pos < word.length()) throw NotPlain.INSTANCE;
      for (int i = 0; i < word.length(); ++i) {
        if (b[pos + i] != word.charAt(i)) throw NotPlain.INSTANCE;
      }
      pos += word.length();
    }

    Map<String, Object> object(int depth) throws NotPlain {
      ++pos;  // '{'
      Map<String, Object> m = new LinkedHashMap<>();
      skipSpace();
      if (pos < end && b[pos] == '}') {
        ++pos;
        return m;
      }
      for (;;) {
        skipSpace();
        if (pos >= end || b[pos] != '"') throw NotPlain.INSTANCE;
        String key = string();
        skipSpace();
        if (pos >= end || b[pos] != ':') throw NotPlain.INSTANCE;
        ++pos;
        skipSpace();
        Object v = value(depth);
        // Duplicate keys: Jackson's answer depends on its duplicate-detection setting.
        if (m.containsKey(key)) throw NotPlain.INSTANCE;
        m.put(key, v);
        skipSpace();
        if (pos >= end) throw NotPlain.INSTANCE;
        byte c = b[pos++];
        if (c == '}') return m;
        if (c != ',') throw NotPlain.INSTANCE;
      }
    }

    List<Object> array(int depth) throws NotPlain {
      ++pos;  // '['
      List<Object> list = new ArrayList<>();
      skipSpace();
      if (pos < end && b[pos] == ']') {
        ++pos;
        return list;
      }
      for (;;) {
        skipSpace();
        list.add(value(depth));
        skipSpace();
        if (pos >= end) throw NotPlain.INSTANCE;
        byte c = b[pos++];
        if (c == ']') return list;
        if (c != ',') throw NotPlain.INSTANCE;
      }
    }

    String string() throws NotPlain {
      ++pos;  // '"'
      int start = pos;
      // Fast scan: no escapes, ASCII only -> one String from the bytes.
      while (pos < end) {
        int c = b[pos] & 0xff;
        if (c == '"') {
          String s = new String(b, start, pos - start, StandardCharsets.ISO_8859_1);
          ++pos;
          return s;
        }
        if (c == '\\' || c < 0x20) break;
        if (c >= 0x80) break;
        ++pos;
      }
      if (pos >= end) throw NotPlain.INSTANCE;
      // Slow path: escapes and/or UTF-8. Undo to the start and build the string.
      pos = start;
      StringBuilder sb = new StringBuilder(32);
      while (pos < end) {
        int c = b[pos] & 0xff;
        if (c == '"') {
          ++pos;
          return sb.toString();
        }
        if (c < 0x20) throw NotPlain.INSTANCE;  // unescaped control character
        if (c == '\\') {
          if (pos + 1 >= end) throw NotPlain.INSTANCE;
          byte e = b[pos + 1];
          pos += 2;
          switch (e) {
            case '"': sb.append('"'); break;
            case '\\': sb.append('\\'); break;
            case '/': sb.append('/'); break;
            case 'b': sb.append('\b'); break;
            case 'f': sb.append('\f'); break;
            case 'n': sb.append('\n'); break;
            case 'r': sb.append('\r'); break;
            case 't': sb.append('\t'); break;
            case 'u': {
              if (end - pos < 4) throw NotPlain.INSTANCE;
              int v = 0;
              for (int i = 0; i < 4; ++i) {
                int d = Character.digit(b[pos + i], 16);
                if (d < 0) throw NotPlain.INSTANCE;
                v = (v << 4) | d;
              }
              pos += 4;
              sb.append((char) v);
              break;
            }
            default:
              throw NotPlain.INSTANCE;
          }
          continue;
        }
        if (c < 0x80) {
          sb.append((char) c);
          ++pos;
          continue;
        }
        // A run of non-ASCII bytes: decode strictly (malformed UTF-8 is Jackson's to report).
        int runStart = pos;
        while (pos < end && (b[pos] & 0x80) != 0) ++pos;
        try {
          CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(b, runStart, pos - runStart));
          sb.append(chars);
        } catch (CharacterCodingException ex) {
          throw NotPlain.INSTANCE;
        }
      }
      throw NotPlain.INSTANCE;  // unterminated
    }

    // Strict JSON numbers only: integers as Integer, Long or BigInteger (the smallest that
    // holds them), anything with a fraction or exponent as a finite Double.
    Object number() throws NotPlain {
      int start = pos;
      if (pos < end && b[pos] == '-') ++pos;
      if (pos >= end) throw NotPlain.INSTANCE;
      if (b[pos] == '0') {
        ++pos;
      } else if (b[pos] >= '1' && b[pos] <= '9') {
        while (pos < end && b[pos] >= '0' && b[pos] <= '9') ++pos;
      } else {
        throw NotPlain.INSTANCE;
      }
      boolean integral = true;
      if (pos < end && b[pos] == '.') {
        integral = false;
        ++pos;
        int digits = pos;
        while (pos < end && b[pos] >= '0' && b[pos] <= '9') ++pos;
        if (pos == digits) throw NotPlain.INSTANCE;
      }
      if (pos < end && (b[pos] == 'e' || b[pos] == 'E')) {
        integral = false;
        ++pos;
        if (pos < end && (b[pos] == '+' || b[pos] == '-')) ++pos;
        int digits = pos;
        while (pos < end && b[pos] >= '0' && b[pos] <= '9') ++pos;
        if (pos == digits) throw NotPlain.INSTANCE;
      }
      String text = new String(b, start, pos - start, StandardCharsets.ISO_8859_1);
      if (!integral) {
        double d = Double.parseDouble(text);
        if (Double.isInfinite(d)) throw NotPlain.INSTANCE;
        return d;
      }
      int digits = text.length() - (text.charAt(0) == '-' ? 1 : 0);
      if (digits <= 9) return Integer.parseInt(text);
      if (digits <= 18) {
        long l = Long.parseLong(text);
        return l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE ? (Object) (int) l : (Object) l;
      }
      BigInteger big = new BigInteger(text);
      if (big.bitLength() <= 31) return big.intValue();
      if (big.bitLength() <= 63) return big.longValue();
      return big;
    }
  }

  // ---- writing ----------------------------------------------------------------------------

  /**
   * Writes value as Jackson does with AWS's settings (null map values left out) and returns true; false (nothing written)
   * when the value holds anything but JDK maps with String keys, JDK collections, String,
   * Boolean, Integer, Long, Short, Byte, BigInteger, BigDecimal, finite Double/Float and null.
   */
  static boolean write(Object value, OutputStream out) throws IOException {
    StringBuilder sb = new StringBuilder(256);
    try {
      emit(value, sb, 0);
    } catch (NotPlain e) {
      return false;
    }
    out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
    return true;
  }

  private static boolean isJdkClass(Class<?> c) {
    String n = c.getName();
    return n.startsWith("java.util.") && c.getClassLoader() == null;
  }

  private static void emit(Object v, StringBuilder sb, int depth) throws NotPlain {
    if (depth > MAX_DEPTH) throw NotPlain.INSTANCE;
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String) {
      quote((String) v, sb);
    } else if (v instanceof Boolean) {
      sb.append(((Boolean) v).booleanValue() ? "true" : "false");
    } else if (v instanceof Integer || v instanceof Long || v instanceof Short
        || v instanceof Byte || v instanceof BigInteger) {
      sb.append(v.toString());
    } else if (v instanceof Double) {
      double d = (Double) v;
      if (Double.isNaN(d) || Double.isInfinite(d)) throw NotPlain.INSTANCE;
      sb.append(Double.toString(d));
    } else if (v instanceof Float) {
      float f = (Float) v;
      if (Float.isNaN(f) || Float.isInfinite(f)) throw NotPlain.INSTANCE;
      sb.append(Float.toString(f));
    } else if (v instanceof BigDecimal) {
      if (v.getClass() != BigDecimal.class) throw NotPlain.INSTANCE;
      sb.append(v.toString());
    } else if (v instanceof Map && isJdkClass(v.getClass())) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!(e.getKey() instanceof String)) throw NotPlain.INSTANCE;
        if (e.getValue() == null) continue;  // AWS's mapper: Include.NON_NULL
        if (!first) sb.append(',');
        first = false;
        quote((String) e.getKey(), sb);
        sb.append(':');
        emit(e.getValue(), sb, depth + 1);
      }
      sb.append('}');
    } else if (v instanceof Collection && isJdkClass(v.getClass())) {
      sb.append('[');
      boolean first = true;
      for (Object item : (Collection<?>) v) {
        if (!first) sb.append(',');
        first = false;
        emit(item, sb, depth + 1);
      }
      sb.append(']');
    } else {
      throw NotPlain.INSTANCE;
    }
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  // Jackson's escaping: '"' and '\\', \b \t \n \f \r, other controls as \\u00XX (upper-case
  // hex), a surrogate pair as two \\uXXXX escapes; everything else, other non-ASCII included,
  // as is (UTF-8). A lone surrogate is Jackson's.
  private static void quote(String s, StringBuilder sb) throws NotPlain {
    sb.append('"');
    for (int i = 0, n = s.length(); i < n; ++i) {
      char c = s.charAt(i);
      if (c >= 0x20 && c != '"' && c != '\\') {
        if (Character.isSurrogate(c)) {
          if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
            // Jackson 2.x writes a pair as two escapes (COMBINE_UNICODE_SURROGATES_IN_UTF8 off).
            unicodeEscape(c, sb);
            unicodeEscape(s.charAt(++i), sb);
            continue;
          }
          throw NotPlain.INSTANCE;
        }
        sb.append(c);
        continue;
      }
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\b': sb.append("\\b"); break;
        case '\t': sb.append("\\t"); break;
        case '\n': sb.append("\\n"); break;
        case '\f': sb.append("\\f"); break;
        case '\r': sb.append("\\r"); break;
        default:
          unicodeEscape(c, sb);
      }
    }
    sb.append('"');
  }

  private static void unicodeEscape(char c, StringBuilder sb) {
    sb.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xF]).append(HEX[(c >> 4) & 0xF])
        .append(HEX[c & 0xF]);
  }
}
