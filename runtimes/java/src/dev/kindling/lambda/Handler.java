// kindling's Java runtime: resolves `_HANDLER` the way AWS's Java runtime does and invokes it.
//   "pkg.Class::method"  a public (static or instance) method taking (), (I), (I, Context),
//                        (InputStream, OutputStream) or (InputStream, OutputStream, Context)
//   "pkg.Class"          a class implementing RequestHandler<I,O> or RequestStreamHandler
// User code is loaded by its own class loader over /var/task and /var/task/lib/*.jar (then the
// layers' /opt/java/lib/*.jar), parent-first, so the runtime's aws-lambda-java-core is the one
// every handler sees, as on AWS. The class is initialised (static blocks run) during init.
// POJO events and results go through aws-lambda-java-serialization (AWS's shaded Jackson,
// AWS's settings); Map<String, Object>, Object and String ones through PlainJson, which gives
// the same values and bytes without building Jackson (60-130 ms of a cold start) and hands
// anything else to Jackson. Jackson is only built for handlers and values that need it.
// Threading: built once at init; invoke() is called by the runtime's main thread only.
package dev.kindling.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.amazonaws.services.lambda.runtime.serialization.PojoSerializer;
import com.amazonaws.services.lambda.runtime.serialization.events.LambdaEventSerializers;
import com.amazonaws.services.lambda.runtime.serialization.factories.JacksonFactory;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FilenameFilter;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.URL;
import java.net.URLClassLoader;
import java.security.CodeSource;
import java.security.PermissionCollection;
import java.security.Permissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

final class Handler {
  /** A handler that cannot be loaded: reported to /init/error with this error type. */
  static final class InitError extends Exception {
    private static final long serialVersionUID = 1L;
    final String errorType;

    InitError(String errorType, String message, Throwable cause) {
      super(message, cause);
      this.errorType = errorType;
    }
  }

  private enum Shape { STREAM, STREAM_CONTEXT, NONE, EVENT, EVENT_CONTEXT, CONTEXT }

  private final Object target;  // null for static methods
  private final Method method;
  private final Shape shape;
  private final Type inputType;
  private final Type outputType;
  private PojoSerializer<Object> input;       // built at init for POJO handlers
  private PojoSerializer<Object> output;      // null: by the result's runtime class
  // Plain JSON events/results (PlainJson): Map.class, Object.class or String.class, else null.
  // Their Jackson serializers are built only when a value needs them.
  private final Class<?> plainInput;
  private final Class<?> plainOutput;
  private Class<?> lastResultClass;
  private PojoSerializer<Object> lastResultSerializer;
  private final ClassLoader loader;

  private Handler(Object target, Method method, Shape shape, ClassLoader loader) {
    this.target = target;
    this.method = method;
    this.shape = shape;
    this.loader = loader;
    Type[] params = method.getGenericParameterTypes();
    this.inputType = (shape == Shape.EVENT || shape == Shape.EVENT_CONTEXT) ? params[0] : null;
    this.outputType = method.getGenericReturnType();
    this.plainInput = inputType != null ? PlainJson.plainRoot(inputType) : null;
    this.plainOutput = PlainJson.plainRoot(outputType);
  }

  /** The class loader of the function's code: task root, its lib/*.jar, layers' java/lib. */
  static ClassLoader functionClassLoader(String taskRoot, String optDir) throws Exception {
    List<URL> urls = new ArrayList<>();
    urls.add(new File(taskRoot).toURI().toURL());
    addJars(urls, new File(taskRoot, "lib"));
    addJars(urls, new File(optDir, "java/lib"));
    return new FunctionClassLoader(urls.toArray(new URL[0]), Handler.class.getClassLoader());
  }

  /**
   * The function's class loader: a URLClassLoader whose classes' protection domains carry no
   * permissions. URLClassLoader's own getPermissions grants a FilePermission per file: URL,
   * whose first use initialises java.security.Security (it parses the JDK's java.security file)
   * during every Java cold start; without a SecurityManager (deprecated in 17, gone in 24) no
   * one checks those permissions. Code sources (a class's jar location) are unchanged.
   */
  private static final class FunctionClassLoader extends URLClassLoader {
    static {
      ClassLoader.registerAsParallelCapable();
    }

    FunctionClassLoader(URL[] urls, ClassLoader parent) {
      super(urls, parent);
    }

    @Override
    protected PermissionCollection getPermissions(CodeSource source) {
      return new Permissions();
    }
  }

  private static void addJars(List<URL> urls, File dir) throws Exception {
    File[] jars = dir.listFiles(new JarFilter());
    if (jars == null) return;
    // Sorted only when there is an order to make: the sort's class is not in the archives.
    if (jars.length > 1) Arrays.sort(jars);
    for (File jar : jars) urls.add(jar.toURI().toURL());
  }

  /**
   * A class, not a lambda: an environment's first lambda bootstraps java.lang.invoke
   * (LambdaMetafactory, LambdaForms spun at run time) during its init.
   */
  private static final class JarFilter implements FilenameFilter {
    @Override
    public boolean accept(File dir, String name) {
      return name.endsWith(".jar");
    }
  }

  /** Resolves and initialises the handler; InitError says why it cannot be used. */
  static Handler load(String spec, ClassLoader loader) throws InitError {
    if (spec == null || spec.isEmpty()) {
      throw new InitError("java.lang.IllegalArgumentException", "Handler not set (_HANDLER)", null);
    }
    int sep = spec.indexOf("::");
    String className = sep >= 0 ? spec.substring(0, sep) : spec;
    String methodName = sep >= 0 ? spec.substring(sep + 2) : null;
    Class<?> cls;
    try {
      cls = Class.forName(className, true, loader);
    } catch (ClassNotFoundException | NoClassDefFoundError e) {
      throw new InitError("java.lang.ClassNotFoundException", "Class not found: " + className, e);
    } catch (ExceptionInInitializerError e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new InitError(cause.getClass().getName(),
          "Error loading class " + className + ": " + cause, cause);
    } catch (Throwable t) {
      throw new InitError(t.getClass().getName(), "Error loading class " + className + ": " + t, t);
    }
    Method m;
    Shape shape;
    if (methodName == null) {
      if (RequestStreamHandler.class.isAssignableFrom(cls)) {
        m = find(cls, "handleRequest", InputStream.class, OutputStream.class, Context.class);
        shape = Shape.STREAM_CONTEXT;
      } else if (RequestHandler.class.isAssignableFrom(cls)) {
        m = null;
        // The most specific handleRequest(I, Context): not the erased bridge method.
        for (Method c : cls.getMethods()) {
          if (c.getName().equals("handleRequest") && !c.isBridge() && c.getParameterCount() == 2
              && c.getParameterTypes()[1] == Context.class) {
            if (m == null || m.getParameterTypes()[0].isAssignableFrom(c.getParameterTypes()[0])) m = c;
          }
        }
        shape = Shape.EVENT_CONTEXT;
      } else {
        throw new InitError("java.lang.IllegalArgumentException", "Class " + className
            + " does not implement RequestHandler or RequestStreamHandler, and no method was"
            + " given (use " + className + "::method)", null);
      }
    } else {
      m = null;
      shape = null;
      for (Method c : cls.getMethods()) {
        if (!c.getName().equals(methodName) || c.isBridge() || c.isSynthetic()) continue;
        Shape s = shapeOf(c.getParameterTypes());
        if (s != null && (m == null || s.ordinal() < shape.ordinal())) {
          m = c;
          shape = s;
        }
      }
      if (m == null) {
        throw new InitError("java.lang.NoSuchMethodException", "No public method named "
            + methodName + " with appropriate method signature found on class " + className, null);
      }
    }
    if (m == null) {
      throw new InitError("java.lang.NoSuchMethodException",
          "No public method named handleRequest found on class " + className, null);
    }
    Object target = null;
    if (!Modifier.isStatic(m.getModifiers())) {
      try {
        target = cls.getDeclaredConstructor().newInstance();
      } catch (InvocationTargetException e) {
        Throwable cause = e.getCause();
        throw new InitError(cause.getClass().getName(),
            "An error occurred during class instantiation: " + cause, cause);
      } catch (ReflectiveOperationException e) {
        throw new InitError(e.getClass().getName(), "Class " + className
            + " has no public no-argument constructor: " + e, e);
      }
    }
    try {
      m.setAccessible(true);  // public methods of non-public classes
    } catch (RuntimeException ignored) {
      // module rules may refuse; a public method of a public class does not need it
    }
    Handler h = new Handler(target, m, shape, loader);
    try {
      h.prepareSerializers();
    } catch (Throwable t) {
      throw new InitError(t.getClass().getName(), "Cannot (de)serialise the handler's types: " + t, t);
    }
    return h;
  }

  private static Method find(Class<?> cls, String name, Class<?>... params) throws InitError {
    try {
      return cls.getMethod(name, params);
    } catch (NoSuchMethodException e) {
      throw new InitError("java.lang.NoSuchMethodException", "No public method named " + name
          + " found on class " + cls.getName(), e);
    }
  }

  // The shape of a candidate method's parameters; null when it is not a handler signature.
  // Lower ordinal wins among overloads: streams first, then the richest POJO form.
  private static Shape shapeOf(Class<?>[] p) {
    switch (p.length) {
      case 0:
        return Shape.NONE;
      case 1:
        return p[0] == Context.class ? Shape.CONTEXT : Shape.EVENT;
      case 2:
        if (p[0] == InputStream.class && p[1] == OutputStream.class) return Shape.STREAM;
        return p[1] == Context.class ? Shape.EVENT_CONTEXT : null;
      case 3:
        return p[0] == InputStream.class && p[1] == OutputStream.class && p[2] == Context.class
            ? Shape.STREAM_CONTEXT : null;
      default:
        return null;
    }
  }

  private void prepareSerializers() {
    if (shape == Shape.STREAM || shape == Shape.STREAM_CONTEXT) return;
    if (inputType != null && plainInput == null) input = serializerFor(inputType);
    if (plainOutput == null && outputType != void.class && outputType != Void.class
        && (outputType instanceof Class || outputType instanceof ParameterizedType)) {
      output = serializerFor(outputType);
    }
  }

  // The event: by PlainJson when it can, else by the (lazily built) Jackson serializer.
  private Object event(byte[] body, int length) {
    if (plainInput != null) {
      Object v = PlainJson.parse(body, 0, length, plainInput);
      if (v != PlainJson.FALLBACK) return v;
      if (input == null) input = serializerFor(inputType);
    }
    return input.fromJson(new ByteArrayInputStream(body, 0, length));
  }

  // AWS's event classes (aws-lambda-java-events) get their mixins; anything else plain Jackson.
  @SuppressWarnings("unchecked")
  private PojoSerializer<Object> serializerFor(Type type) {
    Class<?> raw = type instanceof Class ? (Class<?>) type
        : type instanceof ParameterizedType ? (Class<?>) ((ParameterizedType) type).getRawType() : null;
    if (raw != null && LambdaEventSerializers.isLambdaSupportedEvent(raw.getName())) {
      return (PojoSerializer<Object>) LambdaEventSerializers.serializerFor(raw, loader);
    }
    return JacksonFactory.getInstance().getSerializer(type);
  }

  /** Runs one invocation: event body[0, length) in, result bytes written to out. Throws what the handler threw. */
  void invoke(byte[] body, int length, OutputStream out, Context ctx) throws Throwable {
    Object result;
    try {
      switch (shape) {
        case STREAM_CONTEXT:
          method.invoke(target, new ByteArrayInputStream(body, 0, length), out, ctx);
          return;
        case STREAM:
          method.invoke(target, new ByteArrayInputStream(body, 0, length), out);
          return;
        case NONE:
          result = method.invoke(target);
          break;
        case CONTEXT:
          result = method.invoke(target, ctx);
          break;
        case EVENT:
          result = method.invoke(target, event(body, length));
          break;
        default:
          result = method.invoke(target, event(body, length), ctx);
          break;
      }
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
    if (plainOutput != null) {
      if (result == null) {
        out.write(NULL_JSON);
        return;
      }
      if (PlainJson.write(result, out)) return;
      // Not a plain value: Jackson, by the declared type as when built at init (Map, String).
      if (output == null && plainOutput != Object.class) output = serializerFor(outputType);
    }
    if (output != null) {
      output.toJson(result, out);
    } else if (result == null) {
      out.write(NULL_JSON);
    } else {
      if (result.getClass() != lastResultClass) {
        lastResultSerializer = serializerFor(result.getClass());
        lastResultClass = result.getClass();
      }
      lastResultSerializer.toJson(result, out);
    }
  }

  private static final byte[] NULL_JSON = {'n', 'u', 'l', 'l'};
}
