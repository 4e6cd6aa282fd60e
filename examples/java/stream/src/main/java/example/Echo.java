// RequestStreamHandler Java function for kindling (handler: example.Echo).
// The event's raw bytes are copied to the response unchanged, no (de)serialisation on either
// side; the size and request id go to the function's log.
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

public class Echo implements RequestStreamHandler {
  @Override
  public void handleRequest(InputStream input, OutputStream output, Context context)
      throws IOException {
    long n = input.transferTo(output);
    context.getLogger().log("echoed " + n + " bytes for " + context.getAwsRequestId() + "\n");
  }
}
