"""kindling's C++ function SDK (runtimes/cpp) under AWS's runtime interface emulator.

The SDK speaks only the public Runtime API, so a function built on it must run unchanged under
the emulator AWS ships for local testing (github.com/aws/aws-lambda-runtime-interface-emulator,
built by scripts/build-compat.sh rie). Functions: the C++ examples (scripts/build-examples.sh
cpp, which installs the SDK and builds them with find_package) and tests/compat/functions/cpp,
a function that reports what the SDK saw (request id, ARN, deadline, trace id, function info),
built here against the same installed SDK. The emulator listens on a free loopback port instead
of its default :8080 (--runtime-interface-emulator-address), its Runtime API on another one.

Set KINDLING_COMPAT_NO_BUILD=1 to skip the builds (tests then skip if an artefact is missing)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from compat_common import BUILD_DIR, REPO

RIE = BUILD_DIR / "aws-lambda-rie"
EXAMPLES_OUT = Path(os.environ.get("KINDLING_EXAMPLES_OUT", REPO / "build" / "examples"))
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
NO_BUILD = os.environ.get("KINDLING_COMPAT_NO_BUILD") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1800, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-4000:]}")


@pytest.fixture(scope="module")
def rie() -> Path:
    if not NO_BUILD:
        _run([str(REPO / "scripts" / "build-compat.sh"), "rie"], cwd=REPO)
    if not RIE.is_file():
        pytest.skip(f"{RIE} not built (run scripts/build-compat.sh rie)")
    return RIE


@pytest.fixture(scope="module")
def cpp_out() -> Path:
    """The C++ examples and the installed SDK (build-examples.sh cpp)."""
    if not NO_BUILD:
        _run([str(REPO / "scripts" / "build-examples.sh"), "cpp"], cwd=REPO,
             env={**os.environ, "KINDLING_EXAMPLES_OUT": str(EXAMPLES_OUT)})
    if not (EXAMPLES_OUT / "cpp-sdk").is_dir():
        pytest.skip(f"{EXAMPLES_OUT}/cpp-sdk not installed (run scripts/build-examples.sh cpp)")
    return EXAMPLES_OUT


@pytest.fixture(scope="module")
def context_function(cpp_out) -> Path:
    """tests/compat/functions/cpp built against the installed SDK (incremental)."""
    build = cpp_out / "cpp-compat-build"
    _run(["cmake", "-S", str(REPO / "tests" / "compat" / "functions" / "cpp"), "-B", str(build),
          "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={cpp_out / 'cpp-sdk'}"])
    _run(["cmake", "--build", str(build), "-j2"])
    return build / "bootstrap"


def _unzip_bootstrap(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo("bootstrap")
        assert (info.external_attr >> 16) & 0o111, "bootstrap is not executable in the zip"
        zf.extract(info, dest)
    path = dest / "bootstrap"
    path.chmod(0o755)
    return path


class Emulator:
    """One aws-lambda-rie process running `bootstrap` on free loopback ports."""

    def __init__(self, rie: Path, bootstrap: Path, log_path: Path, env: dict):
        self.port = _free_port()
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{_free_port()}", str(bootstrap)],
            cwd=bootstrap.parent, stdout=self.log, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", **env})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "emulator exited:\n" + self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("emulator did not listen:\n" + self.output())

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def invoke(self, event) -> tuple[int, bytes]:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=body,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def emulate(rie, tmp_path):
    started = []

    def start(bootstrap: Path, env: dict | None = None) -> Emulator:
        e = Emulator(rie, bootstrap, tmp_path / f"rie-{len(started)}.log", env or {})
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


def test_cpp_examples_under_rie(emulate, cpp_out, tmp_path):
    hello = emulate(_unzip_bootstrap(cpp_out / "cpp" / "hello.zip", tmp_path / "hello"))
    status, body = hello.invoke({"name": "emulator"})
    assert status == 200, body
    out = json.loads(body)
    assert out["message"] == "Hello, emulator!"
    assert len(out["request_id"]) == 36 and out["request_id"].count("-") == 4, out
    status, body = hello.invoke({})  # warm: the same process answers again
    assert status == 200 and json.loads(body)["message"] == "Hello, world!"
    assert json.loads(body)["request_id"] != out["request_id"]
    status, body = hello.invoke({"name": 7})  # the handler's failure, as the SDK posts it
    assert json.loads(body) == {"errorMessage": "name must be a string",
                                "errorType": "InvalidInput", "stackTrace": []}, body

    cpu = emulate(_unzip_bootstrap(cpp_out / "cpp" / "cpu.zip", tmp_path / "cpu"))
    status, body = cpu.invoke({"n": 1000})
    assert status == 200 and json.loads(body) == "332833500", body


def test_cpp_sdk_context_under_rie(emulate, context_function):
    env = {"AWS_LAMBDA_FUNCTION_NAME": "cpp-context", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
           "AWS_LAMBDA_FUNCTION_TIMEOUT": "7"}
    fn = emulate(context_function, env)
    status, body = fn.invoke({"k": [1, "two"]})
    assert status == 200, body
    out = json.loads(body)
    assert out["event"] == {"k": [1, "two"]}
    assert out["function_name"] == "cpp-context"
    assert out["function_arn"].endswith(":function:cpp-context"), out
    assert out["memory_limit_mb"] == 512
    assert out["function_version"] == "$LATEST"
    assert 0 < out["remaining_ms"] <= 7000, out
    assert len(out["request_id"]) == 36
    # _X_AMZN_TRACE_ID follows Lambda-Runtime-Trace-Id (this emulator sends none: both empty).
    assert out["trace_env"] == out["xray_trace_id"]

    status, body = fn.invoke({"throw": "thrown \"quoted\"\nline"})
    assert json.loads(body) == {"errorMessage": "thrown \"quoted\"\nline",
                                "errorType": "std::runtime_error", "stackTrace": []}, body
    status, body = fn.invoke({"fail": "declined"})
    assert json.loads(body) == {"errorMessage": "declined", "errorType": "CompatFailure",
                                "stackTrace": []}, body
    status, body = fn.invoke({"after": "errors"})  # the runtime loop survived both
    assert status == 200 and json.loads(body)["event"] == {"after": "errors"}, body


def test_cpp_sdk_context_on_kindling(daemon, context_function, fname):
    """The same function on kindling: the context the SDK reads matches the deployment."""
    with open(context_function, "rb") as f:
        binary = f.read()
    import kindling_harness as kh
    daemon.deploy(fname, kh.make_zip({"bootstrap": (binary, 0o755)}), "provided.al2023",
                  handler="context", memory=192, timeout=5)
    r = daemon.invoke(fname, {"x": 1})
    assert r["function_error"] is None, r["payload"]
    out = json.loads(r["payload"])
    assert out["event"] == {"x": 1}
    assert out["function_name"] == fname and out["memory_limit_mb"] == 192
    assert out["function_arn"].endswith(f":function:{fname}")
    assert out["request_id"] == r["headers"]["x-amzn-requestid"]
    assert 0 < out["remaining_ms"] <= 5000
    assert out["log_group_name"] == f"/aws/lambda/{fname}"
    r = daemon.invoke(fname, {"throw": "boom"})
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {"errorMessage": "boom", "errorType": "std::runtime_error",
                                        "stackTrace": []}
