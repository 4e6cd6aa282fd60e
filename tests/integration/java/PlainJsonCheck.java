// Differential check of kindling's Java runtime fast path (runtimes/java/.../PlainJson.java)
// against AWS's Jackson (aws-lambda-java-serialization, the runtime's own copy): random JSON
// documents (strict and a little off) are read by both into Map<String, Object> and Object,
// and random plain values are written by both (by runtime class and as Map<String, Object>);
// wherever PlainJson does not fall back, the values (class included) and bytes must be equal.
// Run by tests/integration/test_java_cds.py: java -Dseed=N ... PlainJsonCheck <documents>.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.serialization.PojoSerializer;
import com.amazonaws.services.lambda.runtime.serialization.factories.JacksonFactory;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.*;

public final class PlainJsonCheck {
  public static Map<String, Object> sig(Map<String, Object> m) { return m; }
  static final Random R = new Random(Long.getLong("seed", 7));
  static int checkedParse, checkedWrite, fellBack;

  static String randString() {
    StringBuilder sb = new StringBuilder();
    int n = R.nextInt(8);
    for (int i = 0; i < n; ++i) {
      switch (R.nextInt(6)) {
        case 0: sb.append((char) R.nextInt(0x20)); break;
        case 1: sb.append("\"\\/".charAt(R.nextInt(3))); break;
        case 2: sb.append((char) (0x80 + R.nextInt(0x700))); break;
        case 3: sb.append(Character.toChars(0x1F600 + R.nextInt(50))); break;
        case 4: if (R.nextInt(4) == 0) sb.append((char) (0xD800 + R.nextInt(0x800))); else sb.append('x'); break;
        default: sb.append((char) (0x20 + R.nextInt(0x5f)));
      }
    }
    return sb.toString();
  }

  static Object randValue(int depth) {
    switch (R.nextInt(depth > 3 ? 9 : 12)) {
      case 0: return null;
      case 1: return R.nextBoolean();
      case 2: return R.nextInt();
      case 3: return R.nextLong();
      case 4: return R.nextDouble() * Math.pow(10, R.nextInt(40) - 20) * (R.nextBoolean() ? 1 : -1);
      case 5: return new BigInteger(70 + R.nextInt(40), R);
      case 6: return randString();
      case 7: return R.nextFloat() * 1000;
      case 8: return new BigDecimal(BigInteger.valueOf(R.nextInt()), R.nextInt(20) - 10);
      case 9: { Map<String, Object> m = R.nextBoolean() ? new LinkedHashMap<>() : new TreeMap<>();
                int n = R.nextInt(4); for (int i = 0; i < n; ++i) m.put(randString(), randValue(depth + 1)); return m; }
      case 10: { List<Object> l = new ArrayList<>(); int n = R.nextInt(4); for (int i = 0; i < n; ++i) l.add(randValue(depth + 1)); return l; }
      default: return (short) R.nextInt(1000);
    }
  }

  // Random JSON text, strict or a little off (Jackson may accept what the fast path leaves).
  static String randJson(int depth) {
    switch (R.nextInt(depth > 3 ? 7 : 10)) {
      case 0: return "null";
      case 1: return R.nextBoolean() ? "true" : "false";
      case 2: { String[] n = {"0", "-0", "12", "-7", "2147483647", "2147483648", "-2147483648", "-2147483649",
                 "9223372036854775807", "9223372036854775808", "123456789012345678901234567890", "1.5", "-0.0",
                 "1e3", "1E-3", "2.5e+10", "1e400", "01", "1.", ".5", "+1", "NaN", "0.1", "100000000000000000000.0", "4.9e-324"};
              return n[R.nextInt(n.length)]; }
      case 3: { StringBuilder sb = new StringBuilder("\""); int k = R.nextInt(6);
              for (int i = 0; i < k; ++i) { switch (R.nextInt(7)) {
                case 0: sb.append("\\n"); break; case 1: sb.append("\\u00e9"); break; case 2: sb.append("\\ud83d\\ude00"); break;
                case 3: sb.append("\\ud800"); break; case 4: sb.append("é€😀"); break; case 5: sb.append('\t'); break;
                default: sb.append("ab\\\"c\\\\/"); } }
              return sb.append('"').toString(); }
      case 4: return R.nextBoolean() ? "[]" : "{}";
      case 5: return "  " + randJson(depth + 1) + " ";
      case 6: return R.nextInt(20) == 0 ? "'single'" : "\"s\"";
      case 7: case 8: { StringBuilder sb = new StringBuilder("{"); int k = R.nextInt(4);
              for (int i = 0; i < k; ++i) { if (i > 0) sb.append(','); sb.append('"').append(R.nextInt(R.nextInt(20) == 0 ? 2 : 50)).append("\":").append(randJson(depth + 1)); }
              if (R.nextInt(30) == 0) sb.append(','); return sb.append('}').toString(); }
      default: { StringBuilder sb = new StringBuilder("["); int k = R.nextInt(4);
              for (int i = 0; i < k; ++i) { if (i > 0) sb.append(','); sb.append(randJson(depth + 1)); }
              return sb.append(']').toString(); }
    }
  }

  static void deepSame(Object a, Object b, String where) {
    if (a == null || b == null) { if (a != b) throw new AssertionError(where + ": " + a + " vs " + b); return; }
    if (a.getClass() != b.getClass()) throw new AssertionError(where + ": " + a.getClass() + " vs " + b.getClass() + " (" + a + ")");
    if (a instanceof Map) {
      List<Map.Entry<?, ?>> x = new ArrayList<>(((Map<?, ?>) a).entrySet()), y = new ArrayList<>(((Map<?, ?>) b).entrySet());
      if (x.size() != y.size()) throw new AssertionError(where + ": sizes");
      for (int i = 0; i < x.size(); ++i) { if (!x.get(i).getKey().equals(y.get(i).getKey())) throw new AssertionError(where + ": key order");
        deepSame(x.get(i).getValue(), y.get(i).getValue(), where + "." + x.get(i).getKey()); }
    } else if (a instanceof List) {
      List<?> x = (List<?>) a, y = (List<?>) b;
      if (x.size() != y.size()) throw new AssertionError(where + ": sizes");
      for (int i = 0; i < x.size(); ++i) deepSame(x.get(i), y.get(i), where + "[" + i + "]");
    } else if (!a.equals(b)) throw new AssertionError(where + ": " + a + " vs " + b);
  }

  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[0]);
    Type mapType = PlainJsonCheck.class.getMethod("sig", Map.class).getGenericParameterTypes()[0];
    JacksonFactory f = JacksonFactory.getInstance();
    PojoSerializer<Object> asMap = f.getSerializer(mapType), asObject = f.getSerializer((Type) Object.class);
    @SuppressWarnings("unchecked")
    PojoSerializer<Object> asString = (PojoSerializer<Object>) (PojoSerializer<?>) f.getSerializer((Type) String.class);
    Class<?>[] roots = {PlainJson.plainRoot(mapType), PlainJson.plainRoot(Object.class), PlainJson.plainRoot(String.class)};
    List<PojoSerializer<Object>> readers = List.of(asMap, asObject, asString);
    PojoSerializer<Object> outMap = f.getSerializer(mapType);
    for (int i = 0; i < n; ++i) {
      byte[] doc = (R.nextBoolean() ? randJson(0) : ("{" + "\"k\":" + randJson(1) + "}")).getBytes(StandardCharsets.UTF_8);
      if (R.nextInt(4) == 0) doc = ("\"" + randString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"").getBytes(StandardCharsets.UTF_8);
      for (int k = 0; k < roots.length; ++k) {
        Object plain = PlainJson.parse(doc, 0, doc.length, roots[k]);
        if (plain == PlainJson.FALLBACK) { ++fellBack; continue; }
        Object jackson;
        try { jackson = readers.get(k).fromJson(new ByteArrayInputStream(doc)); }
        catch (Exception e) { throw new AssertionError("fast path accepted what Jackson refuses: " + new String(doc, StandardCharsets.UTF_8) + ": " + e); }
        deepSame(jackson, plain, new String(doc, StandardCharsets.UTF_8));
        ++checkedParse;
      }
      Object v = R.nextInt(3) == 0 ? randValue(0) : new LinkedHashMap<>(Collections.singletonMap("v", R.nextBoolean() ? randValue(1) : "x"));
      ByteArrayOutputStream a = new ByteArrayOutputStream(), b = new ByteArrayOutputStream();
      if (!PlainJson.write(v, b)) { ++fellBack; continue; }
      if (v == null) { a.write("null".getBytes()); } else { @SuppressWarnings("unchecked") PojoSerializer<Object> s = (PojoSerializer<Object>) (PojoSerializer<?>) f.getSerializer((Type) v.getClass()); s.toJson(v, a); }
      if (!Arrays.equals(a.toByteArray(), b.toByteArray())) throw new AssertionError("write differs for " + v + ":\n jackson " + a + "\n plain   " + b);
      if (v instanceof Map) {
        ByteArrayOutputStream c = new ByteArrayOutputStream(); outMap.toJson(v, c);
        if (!Arrays.equals(c.toByteArray(), b.toByteArray())) throw new AssertionError("typed write differs for " + v + ":\n jackson " + c + "\n plain   " + b);
      }
      ++checkedWrite;
    }
    if (checkedParse < n / 4 || checkedWrite < n / 4) throw new AssertionError("the fast path was hardly taken: parse=" + checkedParse + " write=" + checkedWrite + " of " + n);
    System.out.println("ok parse=" + checkedParse + " write=" + checkedWrite + " fallback=" + fellBack);
  }
}
