"""A small fake of the Lambda Runtime API (2018-06-01) for testing the C++ test payload.

Test-only stand-in for the engine's real Runtime API server (written by the lead in C++). It
parses HTTP/1.1 by hand on raw sockets so the tests can see exactly what the client put on the
wire: which TCP connection carried each request, Content-Length vs chunked framing, chunk sizes,
the Trailer: header and the trailer section. Behaviour follows lambda-interfaces.md section 1:
/next long-polls and answers 200 with the Lambda-Runtime-* headers; /response and /error answer
202 {"status":"OK"}, 400 InvalidRequestID for unknown ids, 403 InvalidStateTransition for a
second result, 413 over 6291556 bytes; /init/error answers 202 only before the first /next.

Knobs for client robustness tests: `close_after_next` (answer /next with Connection: close and
hang up), `drop_after_post` (hang up silently after answering a post, as an idle-timeout would),
`chunked_next` (send /next bodies chunked), `fragment` (write responses in n-byte pieces).
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

MAX_PAYLOAD = 6 * 1024 * 1024 + 100
PREFIX = "/2018-06-01/runtime"


@dataclass
class RecordedRequest:
    conn_id: int
    method: str
    path: str
    headers: list  # [(name, value)] as received
    body: bytes
    chunked: bool = False
    chunk_sizes: list = field(default_factory=list)
    trailers: list = field(default_factory=list)  # [(name, value)] of the trailer section

    def header(self, name: str):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    headers: dict
    kind: str | None = None  # "response" | "error"
    body: bytes | None = None
    request: RecordedRequest | None = None
    delivered_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event)


class FakeRuntimeApi:
    def __init__(self, close_after_next=False, drop_after_post=False, chunked_next=False,
                 fragment=0):
        self.close_after_next = close_after_next
        self.drop_after_post = drop_after_post
        self.chunked_next = chunked_next
        self.fragment = fragment
        self.requests: list[RecordedRequest] = []
        self.post_statuses: list[int] = []
        self.connections = 0
        self.init_error: RecordedRequest | None = None
        self.first_next_at: float | None = None
        self._cond = threading.Condition()
        self._pending: collections.deque[Invocation] = collections.deque()
        self._by_id: dict[str, Invocation] = {}
        self._closed = False
        self._conns: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # ---- test-facing API -------------------------------------------------------------------

    def enqueue(self, payload: bytes, headers: dict | None = None,
                timeout_ms: int = 3000) -> Invocation:
        """Queues one invocation for the next /next; returns its record."""
        rid = str(uuid.uuid4())
        deadline = int(time.time() * 1000) + timeout_ms
        hdrs = {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn":
                "arn:aws:lambda:us-east-1:000000000000:function:payload-test",
            "Lambda-Runtime-Trace-Id":
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            "Content-Type": "application/json",
        }
        hdrs.update(headers or {})
        inv = Invocation(rid, payload, hdrs)
        with self._cond:
            self._by_id[rid] = inv
            self._pending.append(inv)
            self._cond.notify_all()
        return inv

    def wait(self, inv: Invocation, proc=None, timeout: float = 10.0) -> Invocation:
        """Waits for a result; returns early (inv.kind None) if `proc` exits first."""
        end = time.monotonic() + timeout
        while not inv.done.wait(0.02):
            if proc is not None and proc.poll() is not None:
                inv.done.wait(0.2)  # a result may still be in flight
                break
            if time.monotonic() > end:
                raise TimeoutError(f"no result for {inv.request_id} within {timeout}s")
        return inv

    def invoke(self, payload: bytes, proc=None, timeout: float = 10.0, **kw) -> Invocation:
        return self.wait(self.enqueue(payload, **kw), proc, timeout)

    def requests_to(self, suffix: str) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.path.endswith(suffix)]

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            conns = list(self._conns)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    # ---- server ------------------------------------------------------------------------------

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                if self._closed:
                    conn.close()
                    return
                self.connections += 1
                conn_id = self.connections
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, conn_id), daemon=True).start()

    def _serve(self, conn: socket.socket, conn_id: int):
        rfile = conn.makefile("rb", buffering=65536)
        try:
            while True:
                req = self._read_request(rfile, conn_id)
                if req is None:
                    return
                with self._cond:
                    self.requests.append(req)
                if not self._route(conn, req):
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _read_line(rfile) -> bytes:
        line = rfile.readline(65537)
        if not line:
            raise EOFError
        if not line.endswith(b"\r\n"):
            raise ValueError(f"line not CRLF-terminated: {line[:80]!r}")
        return line[:-2]

    def _read_request(self, rfile, conn_id: int) -> RecordedRequest | None:
        try:
            start = self._read_line(rfile)
        except EOFError:
            return None
        method, path, version = start.decode("latin-1").split(" ")
        if version != "HTTP/1.1":
            raise ValueError(f"bad version {version}")
        headers = []
        while True:
            line = self._read_line(rfile)
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        req = RecordedRequest(conn_id, method, path, headers, b"")
        te = req.header("Transfer-Encoding")
        if te is not None:
            if te.lower() != "chunked":
                raise ValueError(f"unsupported Transfer-Encoding {te}")
            if req.header("Content-Length") is not None:
                raise ValueError("both Content-Length and Transfer-Encoding")
            req.chunked = True
            parts = []
            while True:
                size_line = self._read_line(rfile).decode("latin-1")
                size = int(size_line.split(";")[0].strip(), 16)
                if size == 0:
                    break
                req.chunk_sizes.append(size)
                parts.append(rfile.read(size))
                if rfile.read(2) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
            while True:
                line = self._read_line(rfile)
                if not line:
                    break
                name, _, value = line.decode("latin-1").partition(":")
                req.trailers.append((name, value.strip()))
            req.body = b"".join(parts)
        else:
            n = int(req.header("Content-Length") or "0")
            req.body = rfile.read(n)
            if len(req.body) != n:
                raise EOFError
        return req

    def _send(self, conn, status: int, reason: str, headers: list, body: bytes,
              chunked=False, close=False):
        head = [f"HTTP/1.1 {status} {reason}"]
        head += [f"{k}: {v}" for k, v in headers]
        if chunked:
            head.append("Transfer-Encoding: chunked")
            step = max(1, len(body) // 3)
            pieces = [body[i:i + step] for i in range(0, len(body), step)]
            # a chunk extension on the first chunk and a trailer field, both legal and ignorable
            wire_body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";ext=1" if i == 0 else b"", p)
                                 for i, p in enumerate(pieces))
            wire_body += b"0\r\nX-Fake-Trailer: 1\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(body)}")
            wire_body = body
        if close:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + wire_body
        if self.fragment:
            for i in range(0, len(data), self.fragment):
                conn.sendall(data[i:i + self.fragment])
                time.sleep(0.0005)
        else:
            conn.sendall(data)

    def _send_json(self, conn, status: int, reason: str, obj: dict, close=False):
        self._send(conn, status, reason, [("Content-Type", "application/json")],
                   (json.dumps(obj) + "\n").encode(), close=close)

    def _route(self, conn, req: RecordedRequest) -> bool:
        """Answers one request; False if the connection must end."""
        path = req.path
        if req.method == "GET" and path == f"{PREFIX}/invocation/next":
            with self._cond:
                if self.first_next_at is None:
                    self.first_next_at = time.monotonic()
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return False
                inv = self._pending.popleft()
                inv.delivered_at = time.monotonic()
            self._send(conn, 200, "OK", list(inv.headers.items()), inv.payload,
                       chunked=self.chunked_next, close=self.close_after_next)
            return not self.close_after_next

        if req.method == "POST" and path == f"{PREFIX}/init/error":
            with self._cond:
                allowed = self.first_next_at is None and self.init_error is None
                if allowed:
                    self.init_error = req
            if allowed:
                self._send_json(conn, 202, "Accepted", {"status": "OK"})
                status = 202
            else:
                self._send_json(conn, 403, "Forbidden", {
                    "errorMessage": "State transition is not allowed",
                    "errorType": "InvalidStateTransition"})
                status = 403
            with self._cond:
                self.post_statuses.append(status)
            return True

        prefix = f"{PREFIX}/invocation/"
        if req.method == "POST" and path.startswith(prefix):
            rid, _, kind = path[len(prefix):].partition("/")
            if kind not in ("response", "error"):
                self._send_json(conn, 404, "Not Found", {"errorMessage": "not found"})
                return True
            with self._cond:
                inv = self._by_id.get(rid)
                if inv is None:
                    status = 400
                elif inv.kind is not None:
                    status = 403
                elif len(req.body) > MAX_PAYLOAD:
                    status = 413
                    inv.kind, inv.body, inv.request = "too_large", req.body, req
                else:
                    status = 202
                    inv.kind, inv.body, inv.request = kind, req.body, req
                self.post_statuses.append(status)
            if status == 202 or status == 413:
                inv.done.set()
            if status == 202:
                self._send_json(conn, 202, "Accepted", {"status": "OK"})
            elif status == 400:
                self._send_json(conn, 400, "Bad Request", {
                    "errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            elif status == 403:
                self._send_json(conn, 403, "Forbidden", {
                    "errorMessage": "State transition from RuntimeResponseSentState to "
                                    "InvocationResponse failed for runtime. Error: State "
                                    "transition is not allowed",
                    "errorType": "InvalidStateTransition"})
            else:
                self._send_json(conn, 413, "Request Entity Too Large", {
                    "errorMessage": f"Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                    "errorType": "RequestEntityTooLarge"})
            return not (self.drop_after_post and status == 202)

        self._send_json(conn, 404, "Not Found", {"errorMessage": f"no route {req.method} {path}"})
        return True
