"""A small threaded fake of the Lambda Runtime API (2018-06-01), for testing runtimes.

It is a test fake, not the engine's server: it serves events queued by the test on
GET /next (blocking until one is queued), records every request (with the TCP connection it
arrived on, so tests can check keep-alive), and lets tests wait for the /response, /error or
/init/error that answers an event. Bind port 0; read `.endpoint` ("127.0.0.1:PORT").
"""

import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional

API = "/2018-06-01/runtime"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: Dict[str, str]  # lowercase names
    body: bytes
    connection_id: int
    received_at: float  # time.monotonic()


@dataclass
class Outcome:
    kind: str  # "response" | "error" | "init_error"
    body: bytes
    headers: Dict[str, str]

    def json(self):
        return json.loads(self.body)


@dataclass
class _Event:
    request_id: str
    body: bytes
    headers: Dict[str, str]


@dataclass
class _Shared:
    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: List[_Event] = field(default_factory=list)
    outcomes: Dict[str, Outcome] = field(default_factory=dict)
    init_error: Optional[Outcome] = None
    requests: List[RecordedRequest] = field(default_factory=list)
    first_next_at: Optional[float] = None
    next_calls: int = 0
    closed: bool = False
    connections: int = 0
    # How responses are framed: "length" (Content-Length, keep-alive), "chunked"
    # (Transfer-Encoding: chunked) or "close" (Connection: close after each response).
    response_style: str = "length"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "FakeRuntimeAPI/1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        shared = self.server.shared
        with shared.cond:
            shared.connections += 1
            self.connection_id = shared.connections

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, body):
        shared = self.server.shared
        rec = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body,
                              self.connection_id, time.monotonic())
        with shared.cond:
            shared.requests.append(rec)
        return rec

    def _send(self, status, body=b"", headers=None):
        style = self.server.shared.response_style
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if style == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        if style == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            if style == "chunked":
                half = len(body) // 2
                for part in (body[:half], body[half:]):
                    if part:
                        self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
            elif body:
                self.wfile.write(body)
        except OSError:  # the runtime went away (killed by a test): nothing to answer
            self.close_connection = True

    def _send_json(self, status, obj):
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def do_GET(self):
        self._record(b"")
        shared = self.server.shared
        if self.path != API + "/invocation/next":
            self._send_json(404, {"errorMessage": "not found", "errorType": "NotFound"})
            return
        with shared.cond:
            shared.next_calls += 1
            if shared.first_next_at is None:
                shared.first_next_at = time.monotonic()
            shared.cond.notify_all()
            while not shared.pending and not shared.closed:
                shared.cond.wait()
            if shared.closed and not shared.pending:
                event = None
            else:
                event = shared.pending.pop(0)
        if event is None:
            self._send_json(500, {"errorMessage": "Internal Server Error",
                                  "errorType": "InternalServerError"})
            self.close_connection = True
            return
        self._send(200, event.body, event.headers)

    def do_POST(self):
        body = self._read_body()
        rec = self._record(body)
        shared = self.server.shared
        parts = self.path[len(API) + 1:].split("/") if self.path.startswith(API + "/") else []
        if parts == ["init", "error"]:
            with shared.cond:
                shared.init_error = Outcome("init_error", body, rec.headers)
                shared.cond.notify_all()
            self._send_json(202, {"status": "OK"})
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            request_id = parts[1]
            with shared.cond:
                if request_id in shared.outcomes:
                    self._send_json(403, {"errorMessage": "State transition is not allowed",
                                          "errorType": "InvalidStateTransition"})
                    return
                shared.outcomes[request_id] = Outcome(parts[2], body, rec.headers)
                shared.cond.notify_all()
            self._send_json(202, {"status": "OK"})
            return
        self._send_json(404, {"errorMessage": "not found", "errorType": "NotFound"})


class FakeRuntimeApi:
    """Threaded fake Runtime API on 127.0.0.1:<ephemeral>. Thread-safe."""

    def __init__(self):
        self._shared = _Shared()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.shared = self._shared
        self.port = self._server.server_address[1]
        self.endpoint = "127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def set_response_style(self, style):
        """"length" (default), "chunked" or "close": see _Shared.response_style."""
        assert style in ("length", "chunked", "close"), style
        with self._shared.cond:
            self._shared.response_style = style

    def close(self):
        """Releases blocked /next calls with a 500 and stops the server."""
        with self._shared.cond:
            self._shared.closed = True
            self._shared.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add_event(self, payload, request_id=None, deadline_ms=None, timeout_ms=3000,
                  content_type="application/json", function_arn=None, trace_id=None,
                  client_context=None, cognito_identity=None, extra_headers=None):
        """Queues an event (payload: bytes, str or JSON-able object); returns its request id."""
        if isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode()
        else:
            body = json.dumps(payload).encode()
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + timeout_ms
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn":
                function_arn or "arn:aws:lambda:us-east-1:000000000000:function:fn",
            "Lambda-Runtime-Trace-Id": trace_id or
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = (
                client_context if isinstance(client_context, str) else json.dumps(client_context))
        if cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = (
                cognito_identity if isinstance(cognito_identity, str)
                else json.dumps(cognito_identity))
        headers.update(extra_headers or {})
        with self._shared.cond:
            self._shared.pending.append(_Event(request_id, body, headers))
            self._shared.cond.notify_all()
        return request_id

    def wait_outcome(self, request_id, timeout=30.0) -> Outcome:
        """Waits for the /response or /error of request_id; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._shared.cond:
            while request_id not in self._shared.outcomes:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no outcome for %s" % request_id)
                self._shared.cond.wait(left)
            return self._shared.outcomes[request_id]

    def wait_init_error(self, timeout=30.0) -> Outcome:
        """Waits for a POST /init/error; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._shared.cond:
            while self._shared.init_error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no init error")
                self._shared.cond.wait(left)
            return self._shared.init_error

    def wait_next_calls(self, count, timeout=30.0):
        """Waits until /next has been called `count` times; returns False on timeout."""
        deadline = time.monotonic() + timeout
        with self._shared.cond:
            while self._shared.next_calls < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._shared.cond.wait(left)
            return True

    @property
    def first_next_at(self):
        """time.monotonic() of the first GET /next, or None."""
        with self._shared.cond:
            return self._shared.first_next_at

    @property
    def init_error(self):
        with self._shared.cond:
            return self._shared.init_error

    @property
    def requests(self) -> List[RecordedRequest]:
        with self._shared.cond:
            return list(self._shared.requests)
