"""Function-level snapshots (issue 7, SnapStart done locally): with fast start on, a Python
version published with SnapStart gets a snapshot -- one process that ran the function's init and
before-snapshot hooks once, inside a sandbox of its own -- and its later environments are forks of
it, each in new user, PID, mount, UTS and IPC namespaces and its own cgroup, with the
environment's seccomp filter, before any invocation. Checked here on the real daemon: the forks
share the snapshot's init (one init token) but run after-restore hooks once each and differ in
randomness and request ids; REPORT shows Restore Duration; the isolation checks of the sandbox
issue hold for them (no privileges, seccomp, host files hidden, own /tmp, own /proc, memory
limit); a version whose init fails still reports the init error; $LATEST is not snapshotted."""
import concurrent.futures as cf
import json
import re
import time

import pytest

import fast_start as fs
import kindling_harness as kh

RUNTIME = "python3.12"

APP = r'''
import ctypes, os, random, sys, time, uuid
from snapshot_restore_py import register_before_snapshot, register_after_restore

INIT_TOKEN = uuid.uuid4().hex          # the function's init: once per snapshot
COUNTS = {"before": 0, "after": 0}
if os.environ.get("FAIL_INIT"):
    raise RuntimeError("init failed on purpose")

@register_before_snapshot
def _before():
    COUNTS["before"] += 1

@register_after_restore
def _after():
    COUNTS["after"] += 1

def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()

def handler(event, context):
    op = event.get("op", "whoami")
    out = {"init": INIT_TOKEN, "counts": dict(COUNTS), "rid": context.aws_request_id,
           "random": random.random(), "urandom": os.urandom(8).hex(), "pid": os.getpid(),
           "uid": os.getuid(), "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
           "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")}
    if op == "hold":
        time.sleep(event.get("s", 1.5))
    elif op == "privileges":
        libc = ctypes.CDLL(None, use_errno=True)
        def err(rc):
            return 0 if rc == 0 else ctypes.get_errno()
        out.update(cap_eff=_status("CapEff"), cap_bnd=_status("CapBnd"),
                   no_new_privs=_status("NoNewPrivs"), seccomp=_status("Seccomp"),
                   mount=err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                   unshare_user=err(libc.unshare(0x10000000)),
                   setuid0=err(libc.setuid(0)),
                   pids=sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
    elif op == "files":
        out["root"] = sorted(os.listdir("/"))
        out["host_etc"] = os.path.exists("/etc/passwd") and open("/etc/passwd").read().count("\n")
        out["work"] = os.path.exists("/work")
    elif op == "write_tmp":
        with open("/tmp/" + event["name"], "w") as f:
            f.write("x")
        time.sleep(event.get("s", 0))
        out["tmp"] = sorted(n for n in os.listdir("/tmp") if n != "lost+found")
    elif op == "memhog":
        chunks = []
        for _ in range(event["mb"]):
            chunks.append(bytearray(1 << 20))
        out["held_mb"] = len(chunks)
    return out
'''


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    yield from fs.fast_daemon(tmp_path_factory, "snap", needs="function snapshots")


def _publish(d, name, env=None, memory=128):
    kwargs = dict(FunctionName=name, Runtime=RUNTIME, Role=kh.ROLE, Handler="app.handler",
                  Code={"ZipFile": kh.make_zip({"app.py": APP})}, Timeout=10, MemorySize=memory,
                  SnapStart={"ApplyOn": "PublishedVersions"})
    if env:
        kwargs["Environment"] = {"Variables": env}
    c = d.client()
    c.create_function(**kwargs)
    return c.publish_version(FunctionName=name)["Version"]


def _call(d, name, version, event=None):
    r = d.invoke(name, event or {}, tail=True, qualifier=version)
    assert r["status"] == 200, r
    return json.loads(r["payload"]), r


def _snapshot_ready(d, name, version):
    """PublishVersion answered once the version's snapshot was ready (the daemon log says so)."""
    log = d.log_path.read_text()
    assert re.search(rf"fast start: snapshot snapshot:{re.escape(name)}:{version}:\S+ ready", log) \
        and f"PublishVersion {name}:{version}: snapshot ready in" in log, log[-4000:]


def _concurrent(d, name, version, events):
    """Invokes the events at once: each beyond the idle environments needs a new one."""
    with cf.ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(lambda e: _call(d, name, version, e), events))


@pytest.fixture(scope="module")
def restored(fast):
    """Three environments of one SnapStart version busy at once, forked from its snapshot."""
    name = "snapfork"
    version = _publish(fast, name)
    _snapshot_ready(fast, name, version)
    results = _concurrent(fast, name, version, [{"op": "hold", "s": 2.0}] * 3)
    return fast, name, version, results


def _forks(results):
    by_init = {}
    for body, raw in results:
        by_init.setdefault(body["init"], []).append((body, raw))
    return max(by_init.values(), key=len)


def test_environments_fork_from_one_init(restored):
    d, name, version, results = restored
    forks = _forks(results)
    # The snapshot was ready at PublishVersion: every environment is one of its forks.
    assert len(forks) == 3, [b for b, _ in results]
    for body, raw in forks:
        # The snapshot ran the before-snapshot hooks once; each fork ran after-restore once.
        assert body["counts"] == {"before": 1, "after": 1}, body
        assert body["init_type"] == "snap-start"
        report = kh.report_line(raw["log"])
        assert "Restore Duration:" in report and "Init Duration" not in report, report
    assert len({b["random"] for b, _ in forks}) == len(forks)
    assert len({b["urandom"] for b, _ in forks}) == len(forks)
    assert len({b["rid"] for b, _ in forks}) == len(forks)
    # As on AWS, SnapStart environments get no log stream variable (a snapshot would carry one).
    assert {b["stream"] for b, _ in forks} == {None}
    log = d.log_path.read_text()
    assert f"fast start: snapshot snapshot:{name}:{version}:" in log


def test_forked_environment_has_no_privileges(restored):
    d, name, version, _ = restored
    body = _fork_call(d, name, version, {"op": "privileges"})
    assert body["uid"] != 0
    assert body["cap_eff"] == "0000000000000000" and body["cap_bnd"] == "0000000000000000"
    assert body["no_new_privs"] == "1" and body["seccomp"] == "2"
    # The environment's filter is stacked on the snapshot's: mounts and user namespaces refused.
    assert body["mount"] != 0 and body["unshare_user"] != 0 and body["setuid0"] != 0
    # Its own PID namespace: the runtime is pid 2 under its init, nothing else is visible.
    assert body["pid"] == 2 and set(body["pids"]) <= {1, 2}, body


def test_forked_environment_sees_no_host_files(restored):
    d, name, version, _ = restored
    body = _fork_call(d, name, version, {"op": "files"})
    assert body["work"] is False
    assert "home" not in body["root"] and "root" not in body["root"], body["root"]


def test_forked_environments_have_their_own_tmp(restored):
    d, name, version, _ = restored
    results = _concurrent(d, name, version, [{"op": "write_tmp", "name": f"f{i}", "s": 1.5}
                                             for i in range(3)])
    forks = _forks(results)
    assert len(forks) >= 1
    for body, _ in results:
        assert len(body["tmp"]) == 1, [b["tmp"] for b, _ in results]


def test_memory_limit_kills_a_forked_environment_as_out_of_memory(fast):
    name = "snapoom"
    version = _publish(fast, name, memory=128)
    _snapshot_ready(fast, name, version)
    # The first environment is idle: a second one at once is forked; both hog memory.
    results = _concurrent(fast, name, version, [{"op": "memhog", "mb": 400}] * 2)
    for body, raw in results:
        assert raw["function_error"] == "Unhandled", raw
        assert body["errorType"] == "Runtime.OutOfMemory", body


def test_init_error_of_a_snapshot_version_is_reported(fast):
    name = "snapfail"
    version = _publish(fast, name, env={"FAIL_INIT": "1"})
    for _ in range(2):
        r = fast.invoke(name, {}, tail=True, qualifier=version)
        assert r["function_error"] == "Unhandled", r
        body = json.loads(r["payload"])
        assert body["errorType"] == "Runtime.Unknown" or "init failed on purpose" in \
            body.get("errorMessage", ""), body
    time.sleep(0.5)
    log = fast.log_path.read_text()
    assert "init failed on purpose" in log  # the snapshot's own output reaches the daemon log
    assert f"snapshot:{name}:{version}:" in log


def test_latest_is_not_snapshotted(fast):
    name = "snaplatest"
    _publish(fast, name)
    body, raw = _call(fast, name, None)
    assert "Init Duration:" in kh.report_line(raw["log"])
    assert f"snapshot:{name}:$LATEST" not in fast.log_path.read_text()


def _fork_call(d, name, version, event):
    """Runs `event` in an environment forked from the snapshot: calls it alongside holds that
    keep the other environments busy, and returns the answer from a fork."""
    inits = {}
    for _ in range(3):
        results = _concurrent(d, name, version, [event, {"op": "hold", "s": 1.0},
                                                 {"op": "hold", "s": 1.0}])
        for body, _ in results:
            inits[body["init"]] = inits.get(body["init"], 0) + 1
        snapshot_init = max(inits, key=inits.get)
        first = results[0][0]
        if first["init"] == snapshot_init and inits[snapshot_init] >= 2:
            return first
    pytest.fail(f"no answer from a forked environment: {results}")


def test_bench_snapstart_measures_restores(fast, tmp_path):
    """`kindling bench --snapstart`: each cold sample publishes a version (the daemon snapshots
    it) and invokes it; REPORT's Restore Duration is the cold figure, the cell is labelled."""
    import os
    import subprocess

    out = tmp_path / "bench"
    env = dict(os.environ, **kh.CREDS)
    r = subprocess.run([str(kh.BIN), "bench", "--endpoint", fast.endpoint, "--runtimes",
                        RUNTIME, "--memory", "128", "--workloads", "heavy-init", "--cold", "2",
                        "--warm", "1", "--snapstart", "--out", str(out)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads((out / "results.json").read_text())
    (cell,) = results["cells"]
    assert cell["runtime"] == RUNTIME + "+snapstart" and cell["runtime_id"] == RUNTIME
    cold = [s for s in cell["samples"] if s["kind"] == "cold"]
    assert len(cold) == 2 and all(s.get("init_ms") for s in cold), cell["samples"]
    assert not [s for s in cell["samples"] if s.get("error")], cell["samples"]
    log = fast.log_path.read_text()
    for version in ("1", "2"):
        assert f"PublishVersion kindling-bench-{RUNTIME.replace('.', '_')}-snapstart-heavy-init" \
               f"-128:{version}: snapshot ready in" in log, log[-3000:]
