"""Test harness: starts a real kindling daemon and talks to it with real AWS clients.

Used by tests/integration and tests/compat (pytest). The daemon binary comes from $KINDLING_BIN
(set by ctest), else build/kindling; the C++ test payload from $KINDLING_PAYLOAD, else
build/payloads/bootstrap.
"""
from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("KINDLING_BIN", REPO / "build" / "kindling"))
PAYLOAD = Path(os.environ.get("KINDLING_PAYLOAD", REPO / "build" / "payloads" / "bootstrap"))
AWS_CLI = "/usr/bin/aws"  # Debian's AWS CLI v2 (the `aws` on PATH may be an old v1)
ROLE = "arn:aws:iam::000000000000:role/kindling-test"
CREDS = {
    "AWS_ACCESS_KEY_ID": "AKIDKINDLINGTEST",
    "AWS_SECRET_ACCESS_KEY": "kindling-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_zip(files: dict) -> bytes:
    """files: {path: bytes | str | (bytes, mode)} -> zip bytes (mode defaults to 0o644)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            if isinstance(content, str):
                content = content.encode()
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


def zip_dir(directory: Path) -> bytes:
    files = {}
    for p in sorted(Path(directory).rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            files[str(p.relative_to(directory))] = (p.read_bytes(), p.stat().st_mode & 0o777)
    return make_zip(files)


def payload_zip() -> bytes:
    return make_zip({"bootstrap": (PAYLOAD.read_bytes(), 0o755)})


class Daemon:
    """One `kindling serve` process on a free loopback port."""

    def __init__(self, data_dir: Path, keep_alive: int = 600, extra_args=(), preexec_fn=None):
        self.data_dir = Path(data_dir)
        self.keep_alive = keep_alive
        self.extra_args = list(extra_args)  # more `kindling serve` flags
        self.preexec_fn = preexec_fn  # run in the daemon's process before exec (e.g. setrlimit)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".daemon.log")
        self._client = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Daemon":
        self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
             str(self.data_dir), "--keep-alive", str(self.keep_alive), *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "KINDLING_HOME": str(REPO)},
            preexec_fn=self.preexec_fn)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: "
                                   + self.log_path.read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.endpoint + "/kindling/v1/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daemon did not become healthy: " + self.log_path.read_text()[-2000:])

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if not self.proc:
            return 0
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self._client = None
        return rc

    def client(self, validate=True):
        """A boto3 Lambda client; validate=False skips botocore's client-side parameter checks
        so that the server's own validation is what answers."""
        import boto3
        from botocore.config import Config
        make = lambda: boto3.client(
            "lambda", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=CREDS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120,
                          max_pool_connections=64, parameter_validation=validate))
        if not validate:
            return make()
        if self._client is None:
            self._client = make()
        return self._client

    def aws(self, *args, check=False) -> subprocess.CompletedProcess:
        env = {**os.environ, **CREDS}
        return subprocess.run(
            [AWS_CLI, "lambda", *args, "--endpoint-url", self.endpoint, "--region", "us-east-1",
             "--output", "json"], env=env, capture_output=True, text=True, check=check,
            timeout=120)

    def deploy(self, name, zip_bytes, runtime="provided.al2023", handler="echo", memory=128,
               timeout=3, env=None, tags=None) -> dict:
        kwargs = dict(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                      Code={"ZipFile": zip_bytes}, MemorySize=memory, Timeout=timeout)
        if env:
            kwargs["Environment"] = {"Variables": env}
        if tags:
            kwargs["Tags"] = tags
        return self.client().create_function(**kwargs)

    def invoke(self, name, payload=b"{}", tail=False, qualifier=None) -> dict:
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        if isinstance(payload, str):
            payload = payload.encode()
        kwargs = dict(FunctionName=name, Payload=payload, LogType="Tail" if tail else "None")
        if qualifier:
            kwargs["Qualifier"] = qualifier
        r = self.client().invoke(**kwargs)
        return {
            "status": r["StatusCode"],
            "payload": r["Payload"].read(),
            "function_error": r.get("FunctionError"),
            "log": base64.b64decode(r["LogResult"]).decode(errors="replace")
            if "LogResult" in r else None,
            "executed_version": r.get("ExecutedVersion"),
            "headers": r["ResponseMetadata"]["HTTPHeaders"],
        }

    def http(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.endpoint + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def log_streams(self, name) -> list:
        status, _, body = self.http("GET", f"/kindling/v1/functions/{name}/log-streams")
        assert status == 200, body
        return json.loads(body)["logStreams"]

    def metrics(self) -> str:
        return self.http("GET", "/metrics")[2].decode()


def report_line(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("REPORT RequestId:"):
            return line
    raise AssertionError("no REPORT line in:\n" + log)


def new_daemon(tmp: Path | None = None, **kwargs) -> Daemon:
    tmp = Path(tmp or tempfile.mkdtemp(prefix="kindling-test-"))
    return Daemon(tmp / "data", **kwargs)
