"""Tests of the C++ test payload (`bootstrap`) against the fake Runtime API.

Run: /usr/bin/python3 -m pytest tests/payloads/tests  (add -s to see the overhead figures).
The binary is taken from $KINDLING_PAYLOAD_BOOTSTRAP, else the newest
<repo>/build*/payloads/bootstrap. Tests needing root, mount namespaces or a pids cgroup skip
with a reason where the host cannot provide them.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_runtime_api_payload import FakeRuntimeApi  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MiB = 1024 * 1024


def find_bootstrap() -> str | None:
    explicit = os.environ.get("KINDLING_PAYLOAD_BOOTSTRAP")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = [p for p in glob.glob(str(REPO / "build*" / "payloads" / "bootstrap"))
             if os.access(p, os.X_OK)]
    return max(found, key=os.path.getmtime) if found else None


BOOTSTRAP = find_bootstrap()
pytestmark = pytest.mark.skipif(
    BOOTSTRAP is None,
    reason="payload bootstrap not built (ninja -C build-<x> kd_test_payload) and "
           "KINDLING_PAYLOAD_BOOTSTRAP not set")


class Payload:
    """One running bootstrap process with its stdout/stderr captured to files."""

    def __init__(self, fake, handler, tmp_path, env=None, wrapper=None, preexec=None,
                 cwd=None, drop_runtime_api=False):
        self.fake = fake
        self.out_path = tmp_path / f"stdout-{uuid.uuid4().hex[:8]}"
        self.err_path = tmp_path / f"stderr-{uuid.uuid4().hex[:8]}"
        full_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": fake.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_FUNCTION_NAME": "payload-test",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_REGION": "us-east-1",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
        }
        if drop_runtime_api:
            del full_env["AWS_LAMBDA_RUNTIME_API"]
        full_env.update(env or {})

        def setup():
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crash/segv: no core files
            if preexec:
                preexec()

        argv = (wrapper or []) + [BOOTSTRAP]
        self.started = time.monotonic()
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=err,
                                         cwd=cwd or tmp_path, preexec_fn=setup)
        self.rusage = None

    def invoke(self, payload: bytes = b"{}", timeout: float = 10.0, **kw):
        return self.fake.invoke(payload, proc=self.proc, timeout=timeout, **kw)

    def invoke_json(self, payload: bytes = b"{}", **kw):
        inv = self.invoke(payload, **kw)
        assert inv.kind == "response", (inv.kind, self.stderr())
        return json.loads(inv.body)

    def wait_exit(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def stop(self):
        """SIGKILL + reap with wait4 so the CPU time of the process is known."""
        if self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, self.rusage = os.wait4(self.proc.pid, 0)
            self.proc.returncode = -signal.SIGKILL if os.WIFSIGNALED(status) else \
                os.WEXITSTATUS(status)

    def stdout(self) -> str:
        return self.out_path.read_bytes().decode("utf-8", "replace")

    def stderr(self) -> str:
        return self.err_path.read_bytes().decode("utf-8", "replace")


@pytest.fixture
def start(tmp_path):
    """Starts a payload; each gets its own fake Runtime API (p.fake) unless one is passed."""
    started, fakes = [], []

    def _start(handler, fake_api=None, **kw):
        if fake_api is None:
            fake_api = FakeRuntimeApi()
            fakes.append(fake_api)
        p = Payload(fake_api, handler, tmp_path, **kw)
        started.append(p)
        return p

    yield _start
    for p in started:
        p.stop()
    for f in fakes:
        f.close()


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def have_unshare_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                       capture_output=True)
    return r.returncode == 0


def private_tmp_wrapper(size: str) -> list[str]:
    """Runs the payload in its own mount namespace with a small tmpfs on /tmp. The binary is
    opened before the mount and executed through /proc/self/fd, so it also works when the build
    tree itself lives under /tmp (as in a CI clone)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'exec 3<"$0" && mount -t tmpfs -o size={size} kd-payload-test /tmp '
            '&& exec /proc/self/fd/3']


needs_mountns = pytest.mark.skipif(not have_unshare_mount(),
                                   reason="needs root and unshare --mount")


# ---- basic behaviours ----------------------------------------------------------------------

def test_echo_roundtrips_bytes_over_one_connection(start):
    p = start("echo")
    fake = p.fake
    payloads = [b'{"hello":"world"}', b"", b"not json \x00\xff\xfe binary",
                json.dumps({"k": "v" * 100000}).encode(), os.urandom(6 * MiB)]
    for body in payloads:
        inv = p.invoke(body)
        assert inv.kind == "response"
        assert inv.body == body
        assert inv.request.header("Content-Length") == str(len(body))
        assert inv.request.header("Content-Type") == "application/json"
        assert not inv.request.chunked
    # keep-alive: every /next and /response went over the same TCP connection
    assert fake.connections == 1
    assert {r.conn_id for r in fake.requests} == {1}
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests[:4]] == \
        ["next", "response", "next", "response"]


def test_keepalive_reuse_many_invokes(start):
    p = start("echo")
    fake = p.fake
    for i in range(200):
        body = json.dumps({"i": i}).encode()
        assert p.invoke(body).body == body
    assert fake.connections == 1
    assert len(fake.requests_to("/response")) == 200


def test_noop(start):
    p = start("noop")
    assert p.invoke(b'{"x":1}').body == b"{}"
    assert p.invoke(b"").body == b"{}"


def test_sleep(start):
    p = start("sleep:250")
    t0 = time.monotonic()
    assert p.invoke_json() == {"slept_ms": 250}
    assert time.monotonic() - t0 >= 0.25


def test_crash_aborts(start):
    p = start("crash")
    fake = p.fake
    inv = p.invoke()
    assert inv.kind is None
    assert p.wait_exit() == -signal.SIGABRT
    assert len(fake.requests_to("/next")) == 1


def test_segv_faults(start):
    p = start("segv")
    assert p.invoke().kind is None
    assert p.wait_exit() == -signal.SIGSEGV


@pytest.mark.parametrize("code", [0, 7, 255])
def test_exit_mid_invocation(start, code):
    p = start(f"exit:{code}")
    fake = p.fake
    assert p.invoke().kind is None
    assert p.wait_exit() == code
    assert len(fake.requests_to("/next")) == 1
    assert fake.requests_to("/response") == []


def test_memhog_allocates(start):
    p = start("memhog:64")
    out = p.invoke_json()
    assert out == {"requested_mib": 64, "allocated_mib": 64, "errno": 0, "error": "",
                   "message": ""}
    assert p.invoke_json()["allocated_mib"] == 64  # memory was released and can be had again


def test_memhog_reports_limit(start):
    limit = 96 * MiB
    p = start("memhog:512",
              preexec=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    out = p.invoke_json()
    assert 0 < out["allocated_mib"] < 96
    assert out["error"] == "ENOMEM"


def test_forkbomb_capped(start):
    p = start("forkbomb:20")
    out = p.invoke_json()
    assert out["forked"] == 20 and out["reaped"] == 20 and out["capped"] is True
    assert out["errno"] == 0
    # no child is left behind
    kids = subprocess.run(["pgrep", "-P", str(p.proc.pid)], capture_output=True, text=True)
    assert kids.stdout.strip() == ""


def pids_cgroup_root():
    root = Path("/sys/fs/cgroup/pids")
    if os.geteuid() == 0 and (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
        return root
    return None


@pytest.mark.skipif(pids_cgroup_root() is None, reason="needs root and a cgroup v1 pids controller")
def test_forkbomb_until_fork_fails(start):
    cg = pids_cgroup_root() / f"kd-payload-test-{uuid.uuid4().hex[:8]}"
    cg.mkdir()
    try:
        (cg / "pids.max").write_text("16")
        p = start("forkbomb", wrapper=["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$0"'])
        out = p.invoke_json()
        assert out["error"] == "EAGAIN"
        assert out["capped"] is False
        assert 10 <= out["forked"] <= 15  # 16 pids minus the payload itself
        assert out["reaped"] == out["forked"]
        assert (cg / "pids.current").read_text().strip() == "1"
        # the environment still works afterwards
        assert p.invoke(b'"again"').kind == "response"
        p.stop()
    finally:
        for _ in range(50):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_stdout_flood(start):
    p = start("stdout_flood:8")
    out = p.invoke_json()
    assert out == {"requested_mib": 8, "written_bytes": 8 * MiB, "errno": 0, "error": "",
                   "message": ""}
    p.stop()
    data = p.out_path.read_bytes()
    assert len(data) == 8 * MiB
    assert data.startswith(b"kindling stdout flood ")


def test_stderr_and_log(start):
    e = start("stderr:hello: stderr world")
    assert e.invoke_json() == {"stderr": "hello: stderr world"}
    l = start("log:hello stdout \u00e9")
    assert l.invoke_json() == {"stdout": "hello stdout \u00e9"}
    e.stop()
    l.stop()
    assert "hello: stderr world\n" in e.stderr()
    assert l.stdout() == "hello stdout \u00e9\n"


@needs_mountns
def test_fill_tmp_until_enospc(start):
    p = start("fill_tmp:8", wrapper=private_tmp_wrapper("2m"))
    out = p.invoke_json()
    assert out["error"] == "ENOSPC" and out["stage"] in ("write", "fsync")
    assert out["path"] == "/tmp/fill"
    assert 0 < out["written_bytes"] <= 2 * MiB


@needs_mountns
def test_fill_tmp_within_size(start):
    p = start("fill_tmp:3", wrapper=private_tmp_wrapper("16m"))
    out = p.invoke_json()
    assert out == {"path": "/tmp/fill", "requested_mib": 3, "written_bytes": 3 * MiB,
                   "stage": "", "errno": 0, "error": "", "message": ""}


def test_print_env(start):
    p = start("print_env", env={"MY_VAR": 'quote " and \u00fc', "EMPTY": ""})
    fake = p.fake
    out = p.invoke_json()
    assert out["MY_VAR"] == 'quote " and \u00fc'
    assert out["EMPTY"] == ""
    assert out["AWS_LAMBDA_RUNTIME_API"] == fake.address
    assert out["_HANDLER"] == "print_env"
    assert out["AWS_LAMBDA_FUNCTION_NAME"] == "payload-test"


def test_read(start, tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(b"line1\nline2 \xff end")
    p = start(f"read:{f}")
    out = p.invoke_json()
    assert out == {"path": str(f), "bytes": 17, "truncated": False,
                   "content": "line1\nline2 \ufffd end"}
    missing = start(f"read:{tmp_path}/nope")
    out = missing.invoke_json()
    assert out["error"] == "ENOENT" and out["errno"] == 2
    assert out["message"] == "No such file or directory"
    assert "content" not in out
    proc_file = start("read:/proc/self/status").invoke_json()
    assert proc_file["content"].startswith("Name:")


def test_kill(start):
    victim = subprocess.Popen(["sleep", "30"])
    try:
        p = start(f"kill:{victim.pid}")
        out = p.invoke_json()
        assert out["ok"] is True and out["pid"] == victim.pid and out["signal"] == "SIGKILL"
        assert victim.wait(5) == -signal.SIGKILL
    finally:
        victim.kill()
        victim.wait()
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    out = start(f"kill:{pid_max + 1}").invoke_json()
    assert out["ok"] is False and out["error"] == "ESRCH"


def test_net(start):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        out = start(f"net:127.0.0.1:{port}").invoke_json()
        assert out["connected"] is True and out["address"] == "127.0.0.1" and out["errno"] == 0
    finally:
        listener.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    out = start(f"net:127.0.0.1:{closed_port}").invoke_json()
    assert out["connected"] is False and out["error"] == "ECONNREFUSED"
    out = start("net:no-such-host.invalid:80").invoke_json()
    assert out["connected"] is False and out["gai_error"]


def test_threads(start):
    out = start("threads:64").invoke_json()
    assert out == {"requested": 64, "started": 64, "joined": 64, "ran": 64, "errno": 0,
                   "error": "", "message": ""}


def test_setuid_as_current_user(start):
    out = start("setuid").invoke_json()
    if os.geteuid() == 0:
        assert out["ok"] is True and out["uid_after"] == 0
    else:
        assert out["ok"] is False and out["error"] == "EPERM"


def _nobody_can_run():
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        BOOTSTRAP or "/nonexistent"], capture_output=True, timeout=5,
                       env={})
    return r.returncode == 2  # exits 2: AWS_LAMBDA_RUNTIME_API missing, i.e. it ran


@pytest.mark.skipif(BOOTSTRAP is None or not _nobody_can_run(),
                    reason="needs root and a bootstrap path readable by uid 65534")
def test_setuid_and_mount_denied_for_unprivileged(start):
    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    out = start("setuid", preexec=drop).invoke_json()
    assert out["ok"] is False and out["error"] == "EPERM" and out["uid_after"] == 65534
    out = start("mount", preexec=drop).invoke_json()
    assert out["ok"] is False and out["error"] == "EPERM" and out["stage"] == "mount"


@needs_mountns
def test_mount_as_root_in_private_namespace(start):
    wrapper = ["unshare", "--mount", "--propagation", "private"]
    out = start("mount", wrapper=wrapper).invoke_json()
    assert out["ok"] is True and out["unmounted"] is True and out["errno"] == 0
    assert out["target"].startswith("/tmp/kd-payload-mount-")
    assert not os.path.exists(out["target"])


def test_slow_init_delays_first_next(start):
    p = start("slow_init:400")
    fake = p.fake
    inv = p.invoke(b'{"slow":true}')
    assert inv.body == b'{"slow":true}'
    assert fake.first_next_at - p.started >= 0.4
    assert p.invoke(b"[1]").body == b"[1]"  # no delay after init


def test_init_error(start):
    p = start("init_error")
    fake = p.fake
    assert p.wait_exit() == 1
    req = fake.init_error
    assert req is not None
    assert json.loads(req.body) == {"errorMessage": "init failed",
                                    "errorType": "Runtime.TestInitError"}
    assert req.body == b'{"errorMessage":"init failed","errorType":"Runtime.TestInitError"}'
    assert req.header("Lambda-Runtime-Function-Error-Type") == "Runtime.TestInitError"
    # The fake records the status after its reply is sent, which may be after the payload
    # read it and exited: wait for the record instead of racing it.
    deadline = time.monotonic() + 5
    while not fake.post_statuses and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.post_statuses == [202]
    assert fake.requests_to("/next") == []


def test_init_exit(start):
    p = start("init_exit:3")
    fake = p.fake
    assert p.wait_exit() == 3
    assert fake.requests == []


def test_error(start):
    inv = start("error").invoke()
    assert inv.kind == "error"
    assert inv.request.header("Lambda-Runtime-Function-Error-Type") == "Function.TestError"
    assert json.loads(inv.body) == {"errorMessage": "test error", "errorType": "TestError",
                                    "stackTrace": ["frame1"]}


@pytest.mark.parametrize("size", [2, 1000, 6 * MiB + 100])
def test_big_response_exact_size(start, size):
    inv = start(f"big_response:{size}").invoke()
    assert inv.kind == "response"
    assert len(inv.body) == size
    assert json.loads(inv.body) == "x" * (size - 2)


def test_big_response_over_limit_keeps_running(start):
    p = start(f"big_response:{6 * MiB + 101}")
    fake = p.fake
    inv = p.invoke()
    assert inv.kind == "too_large"
    inv2 = p.invoke()  # the runtime survives a 413 and asks for more work
    assert inv2.kind == "too_large"
    assert fake.post_statuses == [413, 413]
    assert "answered 413" in p.stderr()


def test_double_response(start):
    p = start("double_response")
    fake = p.fake
    inv = p.invoke()
    assert inv.kind == "response" and inv.body == b'{"response":"first"}'
    p.invoke()  # the second invoke proves the loop continued past the rejected post
    assert wait_for(lambda: len(fake.post_statuses) == 4)
    assert wait_for(lambda: len(p.stdout().splitlines()) == 2)
    p.stop()
    assert fake.post_statuses == [202, 403, 202, 403]
    assert p.stdout().splitlines()[0] == "double_response: first_status=202 second_status=403"


@pytest.mark.parametrize("size", [0, 1, 5, 1000, 200000])
def test_chunked_echo_framing(start, size):
    body = os.urandom(size)
    inv = start("chunked_echo").invoke(body)
    req = inv.request
    assert inv.kind == "response" and inv.body == body
    assert req.chunked and req.header("Content-Length") is None
    assert req.header("Transfer-Encoding") == "chunked"
    assert req.header("Trailer") == \
        "Lambda-Runtime-Function-Error-Body,Lambda-Runtime-Function-Error-Type"
    assert req.trailers == []
    assert sum(req.chunk_sizes) == size
    assert all(0 < s <= 32 * 1024 for s in req.chunk_sizes)
    if size >= 3:
        assert len(req.chunk_sizes) >= 3


def test_chunked_echo_keeps_connection(start):
    p = start("chunked_echo")
    fake = p.fake
    for i in range(20):
        body = b"x" * (i * 997)
        assert p.invoke(body).body == body
    assert fake.connections == 1


def test_deadline(start):
    p = start("deadline")
    extra = {"Lambda-Runtime-Client-Context": '{"custom":{"k":"v"}}',
             "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"id1"}'}
    inv = p.fake.enqueue(b"{}", headers=extra, timeout_ms=5000)
    out = json.loads(p.fake.wait(inv, p.proc).body)
    assert out["request_id"] == inv.request_id
    assert out["deadline_ms"] == int(inv.headers["Lambda-Runtime-Deadline-Ms"])
    assert 4000 <= out["remaining_ms"] <= 5000
    sent = {k: v for k, v in inv.headers.items() if k.startswith("Lambda-Runtime-")}
    assert out["headers"] == sent


def test_cpu(start):
    n = 1_000_003
    out = start(f"cpu:{n}").invoke_json()
    assert out == {"n": n, "sum": str(sum(i * i for i in range(n)) % 2**64)}
    big = 3_000_000_000  # wraps mod 2^64; closed form sum = (n-1)n(2n-1)/6
    t0 = time.monotonic()
    out = start(f"cpu:{big}").invoke_json(timeout=60)
    assert out["sum"] == str(((big - 1) * big * (2 * big - 1) // 6) % 2**64)
    assert time.monotonic() - t0 > 0.3  # really looped, was not folded to the closed form


# ---- handler errors ------------------------------------------------------------------------

@pytest.mark.parametrize("handler,etype", [
    ("nosuch", "Runtime.HandlerNotFound"),
    ("", "Runtime.HandlerNotFound"),
    ("sleep:abc", "Runtime.MalformedHandlerName"),
    ("sleep", "Runtime.MalformedHandlerName"),
    ("exit:256", "Runtime.MalformedHandlerName"),
    ("echo:1", "Runtime.MalformedHandlerName"),
])
def test_bad_handler_reports_init_error(start, handler, etype):
    p = start(handler)
    fake = p.fake
    assert p.wait_exit() == 1
    req = fake.init_error
    assert req is not None and req.header("Lambda-Runtime-Function-Error-Type") == etype
    body = json.loads(req.body)
    assert body["errorType"] == etype and handler in body["errorMessage"]
    assert fake.requests_to("/next") == []


def test_missing_runtime_api_env(start):
    p = start("echo", drop_runtime_api=True)
    assert p.wait_exit() == 2
    assert "AWS_LAMBDA_RUNTIME_API" in p.stderr()


def test_runtime_api_unreachable(start):
    class Nobody:  # an address with no listener
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()

    p = start("echo", fake_api=Nobody())
    assert p.wait_exit() == 1
    assert "connect(" in p.stderr()


# ---- client robustness: framing and connection handling ------------------------------------

def test_reconnects_after_connection_close(start, tmp_path):
    f = FakeRuntimeApi(close_after_next=True)
    try:
        p = start("echo", fake_api=f)
        for i in range(5):
            body = b'{"n":%d}' % i
            assert p.invoke(body).body == body
        assert f.connections >= 5  # each /next ended its connection
    finally:
        f.close()


def test_retries_when_idle_connection_was_dropped(start):
    f = FakeRuntimeApi(drop_after_post=True)
    try:
        p = start("echo", fake_api=f)
        for i in range(5):
            body = b'{"n":%d}' % i
            assert p.invoke(body).body == body
        # the first, plus one per /next after each drop (the last one may still be connecting)
        assert wait_for(lambda: f.connections == 6)
        assert p.proc.poll() is None
    finally:
        f.close()


def test_chunked_and_fragmented_next_bodies(start):
    f = FakeRuntimeApi(chunked_next=True, fragment=7)
    try:
        p = start("echo", fake_api=f)
        for body in [b"{}", b"a" * 10, b'{"x":"' + b"y" * 5000 + b'"}', b""]:
            assert p.invoke(body).body == body
        assert f.connections == 1
    finally:
        f.close()


def test_deadline_headers_survive_fragmented_head(start):
    f = FakeRuntimeApi(fragment=3)
    try:
        p = start("deadline", fake_api=f)
        inv = f.enqueue(b"{}")
        out = json.loads(f.wait(inv, p.proc).body)
        assert out["request_id"] == inv.request_id
    finally:
        f.close()


# ---- overhead figure (printed, not asserted) -----------------------------------------------

def test_noop_overhead_report(start):
    n = int(os.environ.get("KD_PAYLOAD_BENCH_INVOKES", "10000"))
    p = start("noop")
    fake = p.fake
    p.invoke()  # warm up
    t0 = time.perf_counter()
    for _ in range(n):
        inv = p.invoke()
        assert inv.body == b"{}"
    wall = time.perf_counter() - t0
    status = Path(f"/proc/{p.proc.pid}/status").read_text()
    rss = {k: v.strip() for k, _, v in (l.partition(":") for l in status.splitlines())
           if k in ("VmRSS", "VmHWM")}
    p.stop()
    cpu = p.rusage.ru_utime + p.rusage.ru_stime
    assert fake.connections == 1
    print(f"\n[payload overhead] {n} noop invokes against the Python fake: "
          f"{wall / n * 1e6:.1f} us/invoke wall (fake-dominated), payload CPU "
          f"{cpu / (n + 1) * 1e6:.2f} us/invoke (user {p.rusage.ru_utime:.3f}s, "
          f"sys {p.rusage.ru_stime:.3f}s), VmRSS {rss['VmRSS']}, VmHWM {rss['VmHWM']}")
