"""A small fake of the Lambda Runtime API (2018-06-01), for checking the official runtime
interface clients' bootstraps without the kindling daemon.

It is a test fake, not the engine: it speaks raw HTTP/1.1 over sockets (so that it can record
the exact wire framing each client uses: Content-Length vs chunked, declared and sent
trailers, header spelling, connection reuse), queues invocations handed to it by the test and
answers /next, /response, /error and /init/error as lambda-interfaces.md section 1 describes.

Usage as a library (see test_clients_fake_api.py):
    with FakeRuntimeApi() as api:
        proc = launch_bootstrap(code_dir, api.address)
        inv = api.invoke(b'{"name":"x"}')
        inv.wait(10); inv.kind, inv.body

Usage from the shell (prints the observations per client):
    python3 tests/compat/fake_runtime_api_compat.py tests/compat/build/go.zip ...
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

RUNTIME_PREFIX = "/2018-06-01/runtime/"
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 6 * 1024 * 1024 + 100


@dataclass
class RecordedRequest:
    """One HTTP request exactly as a client sent it."""

    connection_id: int
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]  # in wire order and wire spelling
    framing: str  # "content-length", "chunked" or "none"
    body: bytes = b""
    chunk_sizes: list[int] = field(default_factory=list)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    expect_continue: bool = False

    def header(self, name: str) -> str | None:
        """First value of a header, matched case-insensitively."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def summary(self) -> dict:
        """A JSON-friendly description for reports."""
        return {
            "conn": self.connection_id,
            "request": f"{self.method} {self.target} {self.version}",
            "headers": [f"{k}: {v}" for k, v in self.headers],
            "framing": self.framing,
            "chunk_sizes": self.chunk_sizes,
            "trailers": [f"{k}: {v}" for k, v in self.trailers],
            "expect_100_continue": self.expect_continue,
            "body": self.body.decode("utf-8", "replace")[:400],
        }


class Invocation:
    """One queued invoke and, once the runtime answered, its outcome."""

    def __init__(self, payload: bytes, request_id: str, deadline_ms: int, extra_headers: dict):
        self.payload = payload
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.extra_headers = extra_headers
        self.kind: str | None = None  # "response" or "error"
        self.body: bytes | None = None
        self.request: RecordedRequest | None = None
        self.next_request: RecordedRequest | None = None
        self._done = threading.Event()

    def complete(self, kind: str, request: RecordedRequest) -> None:
        self.kind = kind
        self.body = request.body
        self.request = request
        self._done.set()

    def wait(self, timeout: float) -> bool:
        """Blocks until the runtime posted a response or error; False on timeout."""
        return self._done.wait(timeout)

    def json(self):
        return json.loads(self.body or b"null")


class _BadRequest(Exception):
    pass


class FakeRuntimeApi:
    """Runtime API fake on 127.0.0.1:<ephemeral port>. Thread-safe; one thread per connection."""

    def __init__(self, function_name: str = "compat-fn", timeout_s: float = 30.0):
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.requests: list[RecordedRequest] = []
        self.init_errors: list[RecordedRequest] = []
        self._pending: "queue.Queue[Invocation | None]" = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._conn_seq = 0
        self._stopping = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._conns: list[socket.socket] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """host:port, the value for AWS_LAMBDA_RUNTIME_API."""
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def start(self) -> "FakeRuntimeApi":
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._pending.put(None)
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "FakeRuntimeApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test side -------------------------------------------------------------------------
    def invoke(self, payload: bytes, extra_headers: dict | None = None) -> Invocation:
        """Queues an invocation for the runtime's next /next; returns it for waiting."""
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + self.timeout_s) * 1000)
        inv = Invocation(payload, request_id, deadline_ms, extra_headers or {})
        with self._lock:
            self._by_id[request_id] = inv
        self._pending.put(inv)
        return inv

    def requests_for(self, suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.target.endswith(suffix)]

    def connection_ids(self) -> list[int]:
        with self._lock:
            return [r.connection_id for r in self.requests]

    # -- server side -----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conn_seq += 1
                conn_id = self._conn_seq
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, conn_id), daemon=True).start()

    def _serve(self, conn: socket.socket, conn_id: int) -> None:
        reader = _Reader(conn)
        try:
            while not self._stopping.is_set():
                try:
                    request = self._read_request(reader, conn, conn_id)
                except _BadRequest as exc:
                    self._send(conn, 400, {"errorMessage": str(exc), "errorType": "BadRequest"})
                    return
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                if not self._dispatch(conn, request):
                    return
                if (request.header("Connection") or "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _read_request(self, reader: "_Reader", conn: socket.socket, conn_id: int):
        head = reader.read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
        if head is None:
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise _BadRequest(f"bad request line {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(f"bad header line {line!r}")
            headers.append((name, value.strip()))
        req = RecordedRequest(conn_id, parts[0], parts[1], parts[2], headers, "none")
        if (req.header("Expect") or "").lower() == "100-continue":
            req.expect_continue = True
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        te = (req.header("Transfer-Encoding") or "").lower()
        if te:
            if te != "chunked":
                raise _BadRequest(f"unsupported Transfer-Encoding {te!r}")
            req.framing = "chunked"
            body = bytearray()
            while True:
                size_line = reader.read_until(b"\r\n", 1024)
                if size_line is None:
                    raise _BadRequest("truncated chunk size")
                size = int(size_line[:-2].split(b";")[0].strip(), 16)
                req.chunk_sizes.append(size)
                if size == 0:
                    break
                data = reader.read_exact(size + 2)
                if data is None or data[-2:] != b"\r\n":
                    raise _BadRequest("truncated chunk")
                body += data[:-2]
                if len(body) > MAX_BODY_BYTES:
                    raise _BadRequest("body too large")
            while True:  # trailer section
                line = reader.read_until(b"\r\n", MAX_HEAD_BYTES)
                if line is None:
                    raise _BadRequest("truncated trailers")
                if line == b"\r\n":
                    break
                name, _, value = line[:-2].decode("latin-1").partition(":")
                req.trailers.append((name, value.strip()))
            req.body = bytes(body)
        elif req.header("Content-Length") is not None:
            req.framing = "content-length"
            length = int(req.header("Content-Length"))
            if length > MAX_BODY_BYTES:
                raise _BadRequest("body too large")
            data = reader.read_exact(length)
            if data is None:
                raise _BadRequest("truncated body")
            req.body = data
        return req

    def _dispatch(self, conn: socket.socket, req: RecordedRequest) -> bool:
        path = req.target.split("?", 1)[0]
        if req.method == "GET" and path == RUNTIME_PREFIX + "invocation/next":
            inv = self._pending.get()
            if inv is None or self._stopping.is_set():
                self._pending.put(None)  # wake any other waiter too
                return False
            inv.next_request = req
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn":
                    f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}",
                "Lambda-Runtime-Trace-Id":
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0",
            }
            headers.update(inv.extra_headers)
            self._send_raw(conn, 200, headers, inv.payload)
            return True
        if req.method == "POST" and path.startswith(RUNTIME_PREFIX + "invocation/"):
            rest = path[len(RUNTIME_PREFIX + "invocation/"):]
            request_id, _, action = rest.partition("/")
            with self._lock:
                inv = self._by_id.get(request_id)
            if action not in ("response", "error"):
                self._send(conn, 404, {"errorMessage": "not found", "errorType": "NotFound"})
                return True
            if inv is None:
                self._send(conn, 400, {"errorMessage": "Invalid request ID",
                                       "errorType": "InvalidRequestID"})
                return True
            if inv.kind is not None:
                self._send(conn, 403, {"errorMessage": "State transition is not allowed",
                                       "errorType": "InvalidStateTransition"})
                return True
            self._send(conn, 202, {"status": "OK"})
            inv.complete(action, req)
            return True
        if req.method == "POST" and path == RUNTIME_PREFIX + "init/error":
            with self._lock:
                self.init_errors.append(req)
            self._send(conn, 202, {"status": "OK"})
            return True
        self._send(conn, 404, {"errorMessage": f"unknown route {req.method} {path}",
                               "errorType": "NotFound"})
        return True

    def _send(self, conn: socket.socket, status: int, obj: dict) -> None:
        body = (json.dumps(obj) + "\n").encode()
        self._send_raw(conn, status, {"Content-Type": "application/json"}, body)

    @staticmethod
    def _send_raw(conn: socket.socket, status: int, headers: dict, body: bytes) -> None:
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
                  404: "Not Found"}.get(status, "Status")
        head = [f"HTTP/1.1 {status} {reason}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        head.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


class _Reader:
    """Buffered reads from a socket; None means the peer closed before the data was there."""

    def __init__(self, conn: socket.socket):
        self._conn = conn
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self._conn.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def read_until(self, delim: bytes, limit: int) -> bytes | None:
        while True:
            idx = self._buf.find(delim)
            if idx >= 0:
                out = bytes(self._buf[: idx + len(delim)])
                del self._buf[: idx + len(delim)]
                return out
            if len(self._buf) > limit:
                raise _BadRequest("line too long")
            if not self._fill():
                return None

    def read_exact(self, n: int) -> bytes | None:
        while len(self._buf) < n:
            if not self._fill():
                return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


# -- running a bootstrap ----------------------------------------------------------------------

def extract_zip(zip_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extracts a function zip keeping the Unix mode bits (zipfile alone drops them)."""
    dest = Path(dest)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            mode = (info.external_attr >> 16) & 0o170777
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode & 0o170000 == 0o120000:  # symlink
                os.symlink(zf.read(info).decode(), target)
                continue
            with zf.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
            if mode & 0o777:
                os.chmod(target, mode & 0o777)
    return dest


def bootstrap_env(task_root: str | os.PathLike, api_address: str, function_name: str = "compat-fn",
                  handler: str = "hello") -> dict:
    """The environment the engine gives a provided.al2023 runtime (contract.md)."""
    return {
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]" + uuid.uuid4().hex,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_ACCESS_KEY_ID": "AKIDCOMPAT",
        "AWS_SECRET_ACCESS_KEY": "compat-secret",
        "AWS_SESSION_TOKEN": "compat-token",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LD_LIBRARY_PATH": "/lib64:/usr/lib64",
    }


def launch_bootstrap(task_root: str | os.PathLike, api_address: str, log_path: str | os.PathLike,
                     **env_kwargs) -> subprocess.Popen:
    """Starts <task_root>/bootstrap as the engine would; stdout+stderr go to log_path."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen([os.path.join(task_root, "bootstrap")], cwd=task_root,
                                env=bootstrap_env(task_root, api_address, **env_kwargs),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()


def observe_client(zip_path: str, timeout_s: float = 20.0) -> dict:
    """Runs one client zip through hello, warm hello and error; returns what happened."""
    with tempfile.TemporaryDirectory(prefix="kd-compat-") as tmp:
        task_root = extract_zip(zip_path, Path(tmp) / "task")
        with FakeRuntimeApi() as api:
            proc = launch_bootstrap(task_root, api.address, Path(tmp) / "out.log")
            try:
                started = time.monotonic()
                results = []
                for payload in (b'{"name":"cold"}', b'{"name":"warm"}',
                                b'{"name":"bad","fail":true}'):
                    inv = api.invoke(payload)
                    ok = inv.wait(timeout_s)
                    results.append({"payload": payload.decode(), "answered": ok,
                                    "kind": inv.kind,
                                    "body": (inv.body or b"").decode("utf-8", "replace")})
                elapsed_ms = (time.monotonic() - started) * 1000
                time.sleep(0.2)  # let the client reach its next /next
            finally:
                proc.kill()
                proc.wait()
            log = (Path(tmp) / "out.log").read_text(errors="replace")
            return {"zip": zip_path, "results": results, "total_ms": round(elapsed_ms, 1),
                    "connections": sorted(set(api.connection_ids())),
                    "requests": [r.summary() for r in api.requests],
                    "init_errors": [r.summary() for r in api.init_errors],
                    "log": log[-2000:]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zips", nargs="+", help="client zips built by scripts/build-compat.sh")
    args = parser.parse_args(argv)
    failed = 0
    for zip_path in args.zips:
        report = observe_client(zip_path)
        print(json.dumps(report, indent=2))
        if not all(r["answered"] for r in report["results"]):
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
