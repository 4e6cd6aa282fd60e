// Hello-world Java function for kindling (handler: example.Hello, or example.Hello::handleRequest).
// Returns {"message": "Hello, <name>!", "request_id": <the invocation's request id>}; the name
// comes from event.name and defaults to "world". example.Hello::fail throws, to show the error
// shape (errorType = the exception class, stackTrace, cause).
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Object name = event == null ? null : event.get("name");
    String who = name == null || name.toString().isEmpty() ? "world" : name.toString();
    context.getLogger().log("greeting " + who + "\n");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("message", "Hello, " + who + "!");
    out.put("request_id", context.getAwsRequestId());
    return out;
  }

  public Map<String, Object> fail(Map<String, Object> event, Context context) {
    Object name = event == null ? null : event.get("name");
    throw new IllegalStateException("fail requested for " + name,
        new IllegalArgumentException("the cause"));
  }
}
