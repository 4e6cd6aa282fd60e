"""kindling's Python runtime: runs AWS-style `module.function` handlers against the Lambda
Runtime API (2018-06-01) of the environment it was started in.

What and why:
- Standard library only, so it starts fast and works on any CPython 3.9-3.13 the engine picks.
  Startup matters most: the runtime imports only socket/json/logging/time before the first
  /next; traceback, decimal and friends are imported lazily on the paths that need them.
- The Runtime API is spoken through a tiny HTTP/1.1 client over one keep-alive TCP connection
  (http.client pulls in the email package, ~3 ms of imports, for nothing we need).
- Behaviour copies AWS's Python runtime where users can observe it: sys.path order, the
  context object, JSON (un)marshalling, the `logging` text format, the error JSON shape
  {"errorMessage","errorType","requestId","stackTrace"}, the "[ERROR] Type: msg\\rTraceback..."
  record on stdout, and the Runtime.* init error types, posted to /init/error before exit(1).
- stdout/stderr are made unbuffered (write-through, no buffer layer) so print() output reaches
  the engine's log pipe before the response is posted, whatever flags the engine passed.

Threading: the runtime is single-threaded; handlers may start threads, which must not call
into the runtime client.
"""

import json
import os
import socket
import sys
import time

# SnapStart hooks module (runtimes/python/snapshot_restore_py.py), loaded now while this
# directory is still on sys.path: _setup_sys_path() drops it, and functions import the module
# by name as on AWS. A few microseconds; it imports nothing.
import snapshot_restore_py as _snapshot_hooks

_RUNTIME_FILES = frozenset(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    for name in ("bootstrap.py", "_kindling_runtime.py")
)
_SDK_DIR_DEFAULT = "/opt/kindling/sdk/python"
_API_PREFIX = "/2018-06-01/runtime/"
_JSON_ENCODER_ENVS_NO_ASCII = frozenset(
    "AWS_Lambda_python3.%d" % minor for minor in range(12, 20)
)


class FaultError(Exception):
    """A runtime-detected failure with an AWS error type (Runtime.*)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


# ----------------------------------------------------------------------------- HTTP client


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered unexpectedly."""


class RuntimeApiClient:
    """Minimal HTTP/1.1 client for the Runtime API: one persistent connection, requests are
    strictly sequential. Not thread-safe."""

    def __init__(self, endpoint, sock=None):
        """`sock`: a connected socket to use instead of connecting to `endpoint` (the zygote's
        warm-up); it is never replaced by a new connection."""
        host, sep, port = endpoint.rpartition(":")
        if not sep or not port.isdigit():
            raise RuntimeApiError("bad AWS_LAMBDA_RUNTIME_API %r (want host:port)" % endpoint)
        self._address = (host or "127.0.0.1", int(port))
        self._host_header = endpoint.encode("ascii")
        self._user_agent = ("kindling-python/%d.%d.%d" % sys.version_info[:3]).encode("ascii")
        self._given = sock is not None
        self._sock = sock
        self._reader = sock.makefile("rb") if sock is not None else None

    def _connect(self):
        if self._given:
            raise OSError("no connection but the one given")
        sock = socket.create_connection(self._address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._reader = sock.makefile("rb")

    def close(self):
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._reader = None

    def request(self, method, path, body=None, headers=None):
        """Sends one request, returns (status, headers dict with lowercase names, body bytes)."""
        head = [b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                % (method, path, self._host_header, self._user_agent)]
        if headers:
            for name, value in headers:
                # Header values must not carry CR/LF; error types come from user exceptions.
                value = value.replace("\r", " ").replace("\n", " ")
                head.append(b"%s: %s\r\n" % (name, value.encode("utf-8", "replace")))
        if body is not None:
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        head = b"".join(head)
        for attempt in (0, 1):
            reused = self._sock is not None
            if not reused:
                try:
                    self._connect()
                except OSError as e:
                    raise RuntimeApiError("connect %s:%d: %s" % (self._address + (e,)))
            try:
                if body is None:
                    self._sock.sendall(head)
                elif len(body) < 65536:
                    self._sock.sendall(head + body)
                else:
                    self._sock.sendall(head)
                    self._sock.sendall(body)
                return self._read_response()
            except (OSError, _ConnectionClosed) as e:
                self.close()
                # A kept-alive connection the server already closed fails on first use:
                # retry once on a fresh connection; a fresh connection failing is fatal.
                if not reused or attempt == 1:
                    raise RuntimeApiError("%s %s: %s" % (method.decode(), path.decode(), e))
        raise RuntimeApiError("unreachable")

    def _read_response(self):
        reader = self._reader
        line = reader.readline(65537)
        if not line:
            raise _ConnectionClosed("connection closed before the response")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise _ConnectionClosed("bad status line %r" % line[:100])
        status = int(parts[1])
        headers = {}
        while True:
            line = reader.readline(65537)
            if not line:
                raise _ConnectionClosed("connection closed in the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        keep_alive = headers.get("connection", "").lower() != "close" and parts[0] != b"HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body = reader.read(length) if length else b""
            if len(body) != length:
                raise _ConnectionClosed("connection closed in the body")
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = reader.read()
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, headers, body

    def _read_chunked(self):
        reader = self._reader
        chunks = []
        while True:
            line = reader.readline(65537)
            if not line:
                raise _ConnectionClosed("connection closed in a chunk header")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailer section
                    line = reader.readline(65537)
                    if not line or line in (b"\r\n", b"\n"):
                        return b"".join(chunks)
            data = reader.read(size + 2)
            if len(data) != size + 2:
                raise _ConnectionClosed("connection closed in a chunk")
            chunks.append(data[:size])

    def next_invocation(self):
        """Blocks until the next event; returns (headers, body)."""
        status, headers, body = self.request(b"GET", b"%sinvocation/next" % _API_PREFIX.encode())
        if status != 200:
            raise RuntimeApiError("GET invocation/next answered %d: %r" % (status, body[:200]))
        return headers, body

    def post_response(self, request_id, payload, content_type):
        """Posts a handler result; raises RuntimeApiError unless the API answers 2xx."""
        path = ("%sinvocation/%s/response" % (_API_PREFIX, request_id)).encode("utf-8")
        status, _, body = self.request(b"POST", path, payload,
                                       ((b"Content-Type", content_type),))
        if not 200 <= status < 300:
            raise RuntimeApiError("POST %s answered %d: %r" % (path.decode(), status, body[:200]))

    def post_error(self, request_id, error_json, error_type):
        """Posts an invocation error; raises RuntimeApiError unless the API answers 2xx."""
        path = ("%sinvocation/%s/error" % (_API_PREFIX, request_id)).encode("utf-8")
        status, _, body = self.request(b"POST", path, error_json,
                                       ((b"Content-Type", "application/json"),
                                        (b"Lambda-Runtime-Function-Error-Type", error_type)))
        if not 200 <= status < 300:
            raise RuntimeApiError("POST %s answered %d: %r" % (path.decode(), status, body[:200]))

    def restore_next(self):
        """SnapStart: GET restore/next; returns once the environment has been restored."""
        status, _, body = self.request(b"GET", b"%srestore/next" % _API_PREFIX.encode())
        if status != 200:
            raise RuntimeApiError("GET restore/next answered %d: %r" % (status, body[:200]))

    def post_restore_error(self, error_json):
        """SnapStart: reports a failed after-restore hook."""
        path = ("%srestore/error" % _API_PREFIX).encode("ascii")
        status, _, body = self.request(b"POST", path, error_json,
                                       ((b"Content-Type", "application/json"),
                                        (b"Lambda-Runtime-Function-Error-Type",
                                         "Runtime.AfterRestoreError")))
        if status != 202:
            raise RuntimeApiError("POST %s answered %d: %r" % (path.decode(), status, body[:200]))

    def post_init_error(self, error_json, error_type):
        """Posts an init failure (only legal before the first /next)."""
        path = ("%sinit/error" % _API_PREFIX).encode("ascii")
        status, _, body = self.request(b"POST", path, error_json,
                                       ((b"Content-Type", "application/json"),
                                        (b"Lambda-Runtime-Function-Error-Type", error_type)))
        if status != 202:
            raise RuntimeApiError("POST %s answered %d: %r" % (path.decode(), status, body[:200]))


class _ConnectionClosed(Exception):
    pass


# ----------------------------------------------------------------------------- stdout / logging


class _State:
    """Process-wide runtime state read by the logging filter (single-threaded writes)."""

    request_id = ""


def _make_unbuffered_stdio():
    """Rebinds sys.stdout/stderr to write-through UTF-8 text streams without a buffer layer
    (what `python -u` does), so every write reaches the pipe immediately."""
    import io

    for fd, name in ((1, "stdout"), (2, "stderr")):
        current = getattr(sys, name)
        if current is None:
            continue
        try:
            if current.fileno() != fd:
                continue
        except (AttributeError, OSError, ValueError):
            continue
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                                  line_buffering=False, write_through=True)
        setattr(sys, name, stream)
        setattr(sys, "__%s__" % name, stream)


def _write_stdout(text):
    stream = sys.stdout if sys.stdout is not None else sys.__stdout__
    try:
        stream.write(text)
    except (OSError, ValueError):
        os.write(1, text.encode("utf-8", "backslashreplace"))


def _setup_logging():
    """Root logger -> stdout in AWS's text format; its level stays WARNING like on AWS unless
    AWS_LAMBDA_LOG_LEVEL says otherwise (_apply_log_level)."""
    import logging

    fmt = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
            except Exception:  # noqa: BLE001 - logging must never raise into user code
                self.handleError(record)
                return
            # One record per line: inner newlines become \r as in AWS's multi-line records.
            _write_stdout(msg.replace("\n", "\r") + "\n")

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _State.request_id
            return True

    formatter = logging.Formatter(fmt, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(formatter)
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def _apply_log_level():
    """The root logger's level from AWS_LAMBDA_LOG_LEVEL (the environment's)."""
    import logging

    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
        root.setLevel({"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level))


def _log_error(error):
    """Prints an error record the way AWS's runtime does: one line, parts joined by \\r."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                lines.extend(element.splitlines())
    _write_stdout("\r".join(lines) + "\n")


# ----------------------------------------------------------------------------- JSON


def _json_default(obj):
    # Decimal (e.g. from boto3's DynamoDB) is encoded as a number, as AWS's runtime does.
    if type(obj).__name__ == "Decimal" and type(obj).__module__ in ("decimal", "_decimal", "_pydecimal"):
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _make_encoder():
    ensure_ascii = os.environ.get("AWS_EXECUTION_ENV") not in _JSON_ENCODER_ENVS_NO_ASCII
    return json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=True, default=_json_default)


def _marshal_response(encoder, response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return encoder.encode(response).encode("utf-8"), "application/json"
    except (TypeError, ValueError) as e:
        raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % e, None)


def _unmarshal_event(body, content_type):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except ValueError as e:
        raise FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e, None)


def _make_error(message, error_type, stack_trace, request_id):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace is not None else [],
    }


def _error_from_exception(exc, request_id):
    """AWS's shape for an exception raised by user code; runtime frames are dropped."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    start = 0
    while start < len(frames) and frames[start].filename in _RUNTIME_FILES:
        start += 1
    frames = frames[start:]
    return _make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


# ----------------------------------------------------------------------------- context


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id=None, pool_id=None):
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name")

    def __init__(self, client):
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")

    def __repr__(self):
        return ("Client([installation_id=%s,app_title=%s,app_version_name=%s,"
                "app_version_code=%s,app_package_name=%s])" % (
                    self.installation_id, self.app_title, self.app_version_name,
                    self.app_version_code, self.app_package_name))


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


class LambdaContext:
    """The `context` argument, with the attributes AWS's Python runtime provides."""

    __slots__ = ("aws_request_id", "log_group_name", "log_stream_name", "function_name",
                 "memory_limit_in_mb", "function_version", "invoked_function_arn",
                 "client_context", "identity", "tenant_id", "_deadline_ms")

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context,
                 identity, tenant_id, static):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.client_context = client_context
        self.identity = identity
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms
        (self.function_name, self.function_version, self.memory_limit_in_mb,
         self.log_group_name, self.log_stream_name) = static

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the invocation's deadline, never negative."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        """Writes msg to the function's log as is (no newline added), like AWS."""
        _write_stdout(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
                "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name,
                    self.function_name, self.memory_limit_in_mb, self.function_version,
                    self.invoked_function_arn, self.client_context, self.identity,
                    self.tenant_id))


def _parse_json_header(value, what):
    try:
        return json.loads(value)
    except ValueError as e:
        raise FaultError("Runtime.LambdaContextUnmarshalError",
                         "Unable to parse %s JSON: %s" % (what, e), None)


def _make_context(headers, request_id, static):
    deadline = headers.get("lambda-runtime-deadline-ms", "")
    deadline_ms = int(deadline) if deadline.isdigit() else 0
    client_context = None
    raw = headers.get("lambda-runtime-client-context")
    if raw:
        data = _parse_json_header(raw, "Client Context")
        if isinstance(data, dict):
            client_context = ClientContext(data)
    identity = CognitoIdentity()
    raw = headers.get("lambda-runtime-cognito-identity")
    if raw:
        data = _parse_json_header(raw, "Cognito Identity")
        if isinstance(data, dict):
            identity = CognitoIdentity(data.get("cognitoIdentityId"),
                                       data.get("cognitoIdentityPoolId"))
    return LambdaContext(request_id, deadline_ms,
                         headers.get("lambda-runtime-invoked-function-arn"),
                         client_context, identity,
                         headers.get("lambda-runtime-aws-tenant-id"), static)


# ----------------------------------------------------------------------------- handler loading


def _setup_sys_path(task_root):
    """sys.path = task root, layer dirs (/opt/python...), the SDK dir, then the interpreter's
    own entries, minus this runtime's directory."""
    runtime_dir = os.path.dirname(os.path.abspath(__file__))
    front = [task_root]
    version_dir = "python%d.%d" % sys.version_info[:2]
    for candidate in ("/opt/python/lib/%s/site-packages" % version_dir, "/opt/python"):
        if os.path.isdir(candidate):
            front.append(candidate)
    sdk = os.environ.get("KINDLING_PYTHON_SDK_DIR", _SDK_DIR_DEFAULT)
    if sdk:
        # A tree resolved for this exact version (e.g. sdk/python3.9) wins over the shared one.
        versioned = sdk + "%d.%d" % sys.version_info[:2]
        if os.path.isdir(versioned):
            front.append(versioned)
        elif os.path.isdir(sdk):
            front.append(sdk)
    seen = set(front)
    rest = []
    for entry in sys.path:
        absolute = os.path.abspath(entry) if entry else os.getcwd()
        if absolute == runtime_dir or entry in seen or absolute in seen:
            continue
        seen.add(entry)
        rest.append(entry)
    sys.path[:] = front + rest


def _load_handler(handler):
    """Imports the handler's module and returns the function, or raises FaultError with the
    Runtime.* type AWS's runtime reports for the same failure."""
    import importlib

    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         "Cannot use built-in module %s as a handler module" % module_name)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (module_name, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (module_name, e), trace)
    try:
        function = getattr(module, function_name)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (function_name, module_name))
    if not callable(function):
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' on module '%s' is not callable" % (function_name, module_name))
    return function


def _fail_init(client, error):
    _log_error(error)
    body = json.dumps(error).encode("utf-8")
    try:
        client.post_init_error(body, error["errorType"])
    except RuntimeApiError as e:
        sys.stderr.write("kindling runtime: reporting the init error failed: %s\n" % e)
    return 1


# ----------------------------------------------------------------------------- SnapStart


def _snap_start(client):
    """The snap-start flow of AWS's runtimes (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start), run
    after the handler's init: before-snapshot hooks (reverse registration order), GET
    restore/next (answered once the environment is restored), kindling's own uniqueness
    restore, then after-restore hooks (registration order). Returns None to go on serving, or
    the exit status: 64 after a failing before-snapshot hook (posted to init/error as
    Runtime.BeforeSnapshotError), 65 after a failing after-restore hook (posted to
    restore/error; the platform fails the environment with Runtime.AfterRestoreError), as
    awslambdaric does."""
    status = _before_snapshot(client)
    if status is not None:
        return status
    return _after_snapshot(client)


def _before_snapshot(client):
    """Runs the before-snapshot hooks; None, or 64 after a failing hook (posted to init/error
    when there is a client: a function snapshot has none, its runtime only logs the error)."""
    before = _snapshot_hooks.get_before_snapshot()
    try:
        while before:
            func, args, kwargs = before.pop()
            func(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - a user hook failed
        error = _error_from_exception(e, None)
        _log_error(error)
        if client is not None:
            try:
                client.post_init_error(json.dumps(error).encode("utf-8"),
                                       "Runtime.BeforeSnapshotError")
            except RuntimeApiError as api_error:
                sys.stderr.write("kindling runtime: reporting the error failed: %s\n" % api_error)
        return 64
    return None


def _after_snapshot(client):
    """In a restored environment: GET restore/next, uniqueness, after-restore hooks. None, or
    the exit status (64: the Runtime API failed, 65: an after-restore hook failed)."""
    try:
        client.restore_next()
    except RuntimeApiError as e:
        sys.stderr.write("kindling runtime: %s; exiting\n" % e)
        return 64
    _restore_uniqueness()
    try:
        for func, args, kwargs in _snapshot_hooks.get_after_restore():
            func(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - a user hook failed
        error = _error_from_exception(e, None)
        _log_error(error)
        try:
            client.post_restore_error(json.dumps(error).encode("utf-8"))
        except RuntimeApiError as api_error:
            sys.stderr.write("kindling runtime: reporting the error failed: %s\n" % api_error)
        return 65
    return None


def _restore_uniqueness():
    """What a restored copy must not share with its siblings: the `random` module's state
    (reseeded from os.urandom when the function has imported it). Request ids are the
    platform's, fresh per invoke; each environment gets its own log stream."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()


# ----------------------------------------------------------------------------- main loop


def _install_quit_builtins():
    # `python -S` skips site.py, which is what defines exit()/quit(); user code calls them.
    import builtins

    if not hasattr(builtins, "exit"):
        def _exit(code=None):
            raise SystemExit(code)
        builtins.exit = _exit
        builtins.quit = _exit


_PROCESS_PREPARED = False


def prepare_process():
    """The set-up that depends on nothing of the environment: write-through stdio, exit() and
    quit(), the root logger's handler. kindling's zygote (zygote.py) runs it once before it
    forks, so forked environments start with it done and share its pages instead of building
    (and dirtying) their own copy; main() runs it in an exec'd runtime."""
    global _PROCESS_PREPARED
    if _PROCESS_PREPARED:
        return
    _make_unbuffered_stdio()
    _install_quit_builtins()
    _setup_logging()
    _PROCESS_PREPARED = True


def canned_invocation(number, deadline_ms, function_name, event):
    """A Runtime API answer to GET /next, as kindling's daemon gives it, for kindling's own
    rehearsals of this runtime (warm_up here, the zygote's probes): request id `number`,
    `event` (bytes) for `function_name`."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Lambda-Runtime-Aws-Request-Id: 00000000-0000-4000-8000-%012d\r\n"
            b"Lambda-Runtime-Deadline-Ms: %d\r\n"
            b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:"
            b"function:%s\r\n"
            b"Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (number, deadline_ms, function_name.encode("ascii"), len(event), event))


# The Runtime API's answer to a posted response, for the same rehearsals.
CANNED_ACCEPTED = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 15\r\n\r\n{\"status\":\"OK\"}")


def warm_up(rounds=3):
    """Run once by kindling's zygote (zygote.py) before it forks: a few invocations of this
    runtime's own code (the HTTP exchange, the context, JSON in and out; no user code) against
    canned Runtime API answers on a socket pair. What those paths create on first use, and the
    interpreter's specialised bytecode for them, then exist in the zygote, shared by every fork,
    instead of being built (and their pages copied) in each environment. Leaves no thread, fd
    or variable behind."""
    server, sock = socket.socketpair()
    client = RuntimeApiClient("127.0.0.1:9001", sock=sock)  # never connects elsewhere
    try:
        event = b'{"warm": [1, 2.5, "x", null, true, {"k": "v"}]}'
        deadline_ms = int(time.time() * 1000) + 60000
        server.sendall(b"".join(canned_invocation(i, deadline_ms, "warm", event) + CANNED_ACCEPTED
                                for i in range(rounds)))
        encoder = _make_encoder()
        static = ("warm", "$LATEST", "128", "/aws/lambda/warm", "warm")
        for _ in range(rounds):
            headers, body = client.next_invocation()
            request_id = headers.get("lambda-runtime-aws-request-id", "")
            context = _make_context(headers, request_id, static)
            event_value = _unmarshal_event(body, headers.get("content-type", ""))
            result = {"event": event_value, "request_id": context.aws_request_id,
                      "left": context.get_remaining_time_in_millis()}
            payload, content_type = _marshal_response(encoder, result)
            client.post_response(request_id, payload, content_type)
    finally:
        client.close()
        sock.close()
        server.close()


# Set by kindling's zygote (zygote.py) in the runtimes it forks: serves fork requests in a
# function snapshot once its init is done, returns True in each forked environment (its
# os.environ already that environment's), False where this process is no snapshot.
snapshot_server = None


def main(argv):
    """Runs the runtime; returns the process exit status (only on init failure or API loss)."""
    prepare_process()
    # A function snapshot (docs/design.md, "Function snapshots"): init, before-snapshot hooks,
    # then forks; it has no Runtime API of its own (an init error only goes to its log: the
    # daemon then starts this version's environments normally, which report it).
    snapshot = os.environ.pop("_KINDLING_SNAPSHOT", None) == "1" and snapshot_server is not None
    client = None
    if not snapshot:
        try:
            client = RuntimeApiClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
        except RuntimeApiError as e:
            sys.stderr.write("kindling runtime: %s\n" % e)
            return 1
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    handler_name = argv[1] if len(argv) > 1 and argv[1] else os.environ.get("_HANDLER", "")
    _setup_sys_path(task_root)
    _apply_log_level()

    error = None
    try:
        handler = _load_handler(handler_name)
    except FaultError as e:
        error = _make_error(e.message, e.error_type, e.trace, None)
    except Exception as e:  # noqa: BLE001 - any exception at import time is an init error
        error = _error_from_exception(e, None)
    if error is not None:
        if client is None:  # a snapshot: its log only
            _log_error(error)
            return 1
        return _fail_init(client, error)
    if snapshot:
        status = _before_snapshot(None)
        if status is not None:
            return status
        if not snapshot_server():
            return 1
        # A forked environment from here on: its own Runtime API.
        try:
            client = RuntimeApiClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
        except RuntimeApiError as e:
            sys.stderr.write("kindling runtime: %s\n" % e)
            return 1
        status = _after_snapshot(client)
        if status is not None:
            return status
    elif os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        status = _snap_start(client)
        if status is not None:
            return status

    environ = os.environ
    static = (environ.get("AWS_LAMBDA_FUNCTION_NAME"), environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
              environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
              environ.get("AWS_LAMBDA_LOG_GROUP_NAME"), environ.get("AWS_LAMBDA_LOG_STREAM_NAME"))
    encoder = _make_encoder()
    dumps = json.dumps
    while True:
        try:
            headers, body = client.next_invocation()
        except RuntimeApiError as e:
            sys.stderr.write("kindling runtime: %s; exiting\n" % e)
            return 1
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        _State.request_id = request_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            environ.pop("_X_AMZN_TRACE_ID", None)
        error = None
        try:
            context = _make_context(headers, request_id, static)
            event = _unmarshal_event(body, headers.get("content-type", ""))
            result = handler(event, context)
            payload, content_type = _marshal_response(encoder, result)
        except FaultError as e:
            error = _make_error(e.message, e.error_type, e.trace, request_id)
        except Exception as e:  # noqa: BLE001 - user code failure becomes /error
            error = _error_from_exception(e, request_id)
        try:
            if error is None:
                client.post_response(request_id, payload, content_type)
            else:
                _log_error(error)
                client.post_error(request_id, dumps(error).encode("utf-8"), error["errorType"])
        except RuntimeApiError as e:
            sys.stderr.write("kindling runtime: %s; exiting\n" % e)
            return 1
