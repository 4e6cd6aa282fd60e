// CPU-bound Java function for kindling (handler: example.Cpu::handleRequest).
// Returns the sum of i*i for i in 0..n-1 modulo 2^64 as a decimal string (n = event.n); long
// arithmetic wraps modulo 2^64 and the result is printed unsigned. The loop runs on the event's
// n, so the JIT cannot fold it into a closed form at compile time. A missing or negative n
// throws IllegalArgumentException (the error the example tests check).
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Cpu implements RequestHandler<Map<String, Object>, String> {
  @Override
  public String handleRequest(Map<String, Object> event, Context context) {
    Object raw = event == null ? null : event.get("n");
    if (!(raw instanceof Number) || ((Number) raw).longValue() < 0) {
      throw new IllegalArgumentException("n must be a non-negative integer, got " + raw);
    }
    long n = ((Number) raw).longValue();
    long sum = 0;
    for (long i = 0; i < n; ++i) sum += i * i;
    return Long.toUnsignedString(sum);
  }
}
