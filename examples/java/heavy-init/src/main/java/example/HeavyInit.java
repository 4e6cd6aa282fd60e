// Heavy-initialisation Java function for kindling (handler: example.HeavyInit::handleRequest).
// AWS's "initialise outside the handler" lesson made measurable: the class's static
// initialiser (run once, in the INIT phase) builds a 30 MB table, a sieve of Eratosthenes
// marking every prime below 30,000,000 (one byte per number, 1 = prime). Each invocation only
// reads the precomputed results. Returns {"items": <primes below LIMIT>, "checksum": <first 16
// hex digits of the table's SHA-256>}: 1857859 / 73e4d3f1f56d29c3, as in every language.
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;

public class HeavyInit implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  static final int LIMIT = 30_000_000;
  static final byte[] SIEVE = buildSieve(LIMIT);
  static final long PRIME_COUNT = count(SIEVE);
  static final String CHECKSUM = sha256Prefix(SIEVE);

  private static byte[] buildSieve(int limit) {
    byte[] sieve = new byte[limit];
    java.util.Arrays.fill(sieve, (byte) 1);
    sieve[0] = 0;
    sieve[1] = 0;
    for (int i = 2; (long) i * i < limit; ++i) {
      if (sieve[i] == 0) continue;
      for (int j = i * i; j < limit; j += i) sieve[j] = 0;
    }
    return sieve;
  }

  private static long count(byte[] sieve) {
    long n = 0;
    for (byte b : sieve) n += b;
    return n;
  }

  private static String sha256Prefix(byte[] data) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(data);
      StringBuilder hex = new StringBuilder(16);
      for (int i = 0; i < 8; ++i) hex.append(String.format("%02x", digest[i]));
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("items", PRIME_COUNT);
    out.put("checksum", CHECKSUM);
    return out;
  }
}
