"""Helpers for testing kindling's runtime bootstraps against tests/fakes/fake_runtime_api.py.

A runtime is started the way the engine starts it (see docs/runtimes.md): cwd = task root,
an explicit environment (nothing inherited but PATH), the recommended interpreter flags, and
stdout+stderr captured from a pipe.
"""

import glob
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fakes"))
sys.path.insert(0, os.path.dirname(__file__))

from fake_runtime_api import FakeRuntimeApi  # noqa: E402

PY_RUNTIME_DIR = os.path.join(REPO, "runtimes", "python")
NODE_RUNTIME_DIR = os.path.join(REPO, "runtimes", "node")
PY_SDK_DIR = "/opt/kindling/sdk/python"
NODE_SDK_DIR = "/opt/kindling/sdk/node"


def _first(pattern):
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


# (id, path or None). Absent interpreters are kept so the tests skip with a reason.
PYTHONS = [("py%s" % v, _first("/root/.pyenv/versions/%s.*/bin/python%s" % (v, v)))
           for v in ("3.9", "3.10", "3.11", "3.12", "3.13")]
PYTHONS.append(("py3.11-debian", "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else None))
NODES = [("node%d" % m, "/opt/kindling/toolchains/node%d/bin/node" % m) for m in (20, 22, 24)]
NODES = [(i, p if os.path.exists(p) else None) for i, p in NODES]


def python_argv(python, handler=None):
    argv = [python, "-S", "-s", os.path.join(PY_RUNTIME_DIR, "bootstrap.py")]
    return argv + [handler] if handler else argv


def node_heap_flags(memory_mb):
    """AWS's sizing (nodejs bootstrap): new space = mem/10, semi space = new/2, old = mem - new."""
    new_space = memory_mb // 10
    return ["--max-semi-space-size=%d" % (new_space // 2),
            "--max-old-space-size=%d" % (memory_mb - new_space)]


def node_argv(node, memory_mb=128, handler=None):
    argv = [node, "--expose-gc", "--max-http-header-size=81920", *node_heap_flags(memory_mb),
            os.path.join(NODE_RUNTIME_DIR, "bootstrap.cjs")]
    return argv + [handler] if handler else argv


def engine_env(api, handler, task_root, runtime_dir, name="fn", memory=128, extra=None):
    env = {
        "AWS_LAMBDA_RUNTIME_API": api.endpoint,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/%s" % name,
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    env.update(extra or {})
    return env


class RuntimeProcess:
    """A runtime process with its combined stdout/stderr collected in the background."""

    def __init__(self, argv, env, cwd):
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._chunks = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self._lock:
                self._chunks.append(chunk)

    def output(self):
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_output(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            time.sleep(0.01)
        return False

    def wait_exit(self, timeout=10.0):
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


@pytest.fixture
def api():
    server = FakeRuntimeApi()
    yield server
    server.close()


@pytest.fixture
def task_dir(tmp_path):
    """Writes files into a fresh task root: task_dir({"app.py": "..."}) -> path."""

    def write(files):
        root = tmp_path / "task"
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        root.mkdir(exist_ok=True)
        return str(root)

    return write


@pytest.fixture
def processes():
    started = []
    yield started
    for proc in started:
        proc.stop()


def require(path, what):
    if path is None:
        pytest.skip("%s is not installed on this machine" % what)
    return path


def have_node_sdk():
    return os.path.isdir(os.path.join(NODE_SDK_DIR, "node_modules", "@aws-sdk", "client-s3"))


def have_python_sdk():
    return os.path.isdir(os.path.join(PY_SDK_DIR, "boto3"))


def which(name):
    return shutil.which(name)


def assert_runtime_api_framing(api, proc, style):
    """Three events whose requests and responses are large, against a fake Runtime API framing
    its responses as `style` (api.set_response_style): each is answered (the handler returns
    {"got": event, "big": 70,000 x}), on one keep-alive connection, or on a new one per request
    when the server closes it after each response ("close")."""
    for i in range(3):
        rid = api.add_event({"i": i, "pad": "p" * (i * 40000)})
        out = api.wait_outcome(rid)
        assert out.kind == "response", proc.output()
        body = out.json()
        assert body["got"] == {"i": i, "pad": "p" * (i * 40000)} and len(body["big"]) == 70000
    connections = {r.connection_id for r in api.requests}
    if style == "close":
        assert len(connections) >= 6, "a new connection per request"
    else:
        assert len(connections) == 1, "one keep-alive connection"
