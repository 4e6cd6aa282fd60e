// The Java compat function: a plain RequestHandler run by AWS's official Java runtime interface
// client (com.amazonaws:aws-lambda-java-runtime-interface-client), unmodified, against kindling.
// {"name": X} -> {"message": "hello X"}; name "bad" throws HelloError, as the other clients do.
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class CompatHello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  /** The error the compat tests expect by name. */
  public static class HelloError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HelloError(String message) {
      super(message);
    }
  }

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Object name = event == null ? null : event.get("name");
    if ("bad".equals(name)) throw new HelloError("fail requested for " + name);
    System.out.println("hello from the official Java RIC, request " + context.getAwsRequestId());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("message", "hello " + name);
    out.put("request_id", context.getAwsRequestId());
    return out;
  }
}
