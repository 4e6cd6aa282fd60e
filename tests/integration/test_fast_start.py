"""Fast start (issue 7, first slice): Python environments forked from runtime zygotes.

A daemon started with `--fast-start on` forks python3.11/python3.12 environments from a
pre-initialised interpreter (runtimes/python/zygote.py + libkindling_zygote.so). These tests
check that a forked environment answers exactly like an exec'd one, is isolated exactly like one
(the checks of test_sandbox.py, with a Python probe instead of the C++ payload), is unique (random
state, request ids), and that the tag kindling:fast-start=false and a missing zygote fall back to
a normal cold start. Every probe reports whether it runs in a forked environment (its __main__ is
zygote.py), so a silent fallback cannot make a test pass.

Runs only where the daemon uses the Linux sandbox with isolation (root); skipped otherwise.
"""
import ctypes
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

import examples as ex
import fast_start as fs
import kindling_harness as kh
import test_examples as te

RUNTIMES = ("python3.11", "python3.12")

# One handler module, behaviours picked by the event's "op" (the Python twin of the C++ test
# payload's handler names).
PROBE = r'''
import ctypes, errno, json, os, random, socket, sys, time

def _main_file():
    return getattr(sys.modules.get("__main__"), "__file__", "")

def handler(event, context):
    op = event.get("op", "whoami")
    out = {"forked": _main_file().endswith("zygote.py"), "rid": context.aws_request_id}
    if op == "whoami":
        out.update(pid=os.getpid(), ppid=os.getppid(), uid=os.getuid(), gid=os.getgid(),
                   random=random.random(), urandom=os.urandom(16).hex(),
                   env=dict(os.environ), path=sys.path, argv=sys.argv,
                   executable=sys.executable, prefix=sys.prefix, nice=os.nice(0))
    elif op == "read":
        try:
            with open(event["path"], "rb") as f:
                out["content"] = f.read(65536).decode("utf-8", "replace")
        except OSError as e:
            out["errno"] = e.errno
    elif op == "listdir":
        try:
            out["entries"] = sorted(os.listdir(event["path"]))
        except OSError as e:
            out["errno"] = e.errno
    elif op == "write_tmp":
        with open("/tmp/" + event["name"], "w") as f:
            f.write("x")
        time.sleep(event.get("hold_s", 0))
        out["tmp"] = sorted(n for n in os.listdir("/tmp") if n != "lost+found")
    elif op == "fds":
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[fd] = os.readlink("/proc/self/fd/" + fd)
            except OSError:
                pass
        out["fds"] = fds
    elif op == "syscalls":
        libc = ctypes.CDLL(None, use_errno=True)
        def err(rc):
            return 0 if rc == 0 else ctypes.get_errno()
        out["mount"] = err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        out["unshare_user"] = err(libc.unshare(0x10000000))  # CLONE_NEWUSER
        out["setuid0"] = err(libc.setuid(0))
        out["kill_1"] = err(libc.kill(1, 9))
    elif op == "connect":
        host, port = event["address"].rsplit(":", 1)
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, int(port)))
            out["connected"] = True
            s.sendall(b"GET /kindling/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                out["http_answered"] = bool(s.recv(100))
            except OSError:
                out["http_answered"] = False
        except OSError as e:
            out["connected"] = False
            out["errno"] = e.errno
        finally:
            s.close()
    elif op == "memhog":
        chunks = []
        for _ in range(event["mb"]):
            chunks.append(bytearray(1 << 20))
        out["held_mb"] = len(chunks)
    elif op == "exit":
        os._exit(event["code"])
    elif op == "started":
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["start_s"] = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: since boot
        with open("/proc/sys/kernel/hostname") as f:
            out["hostname"] = f.read().strip()
    return out
'''

# A handler module that starts a thread at import (the function's own init, in the forked
# environment): must be correct, and the environment keeps serving.
THREADED = r'''
import sys, threading, time
ticks = []
def _tick():
    while True:
        ticks.append(1)
        time.sleep(0.01)
threading.Thread(target=_tick, daemon=True).start()
def handler(event, context):
    time.sleep(0.05)
    return {"threads": threading.active_count(), "ticks": len(ticks) > 0,
            "forked": getattr(sys.modules.get("__main__"), "__file__", "").endswith("zygote.py")}
'''


def _read_bytes(path):
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _zygote_ready(daemon, runtime, timeout=60):
    """Starts the runtime's zygote (a first environment falls back while it starts) and waits
    until it has forked stubs, so the following cold starts are forked."""
    name = f"warm-{runtime.replace('.', '-')}"
    daemon.deploy(name, kh.make_zip({"probe.py": PROBE}), runtime=runtime, handler="probe.handler")
    daemon.invoke(name, {})
    fs.wait_for_zygote(daemon, runtime, timeout)


def _warm_zygotes(daemon):
    for runtime in RUNTIMES:
        try:
            _zygote_ready(daemon, runtime)
        except Exception as e:  # noqa: BLE001
            if "not available on this kindling host" in str(e):
                continue
            raise


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    yield from fs.fast_daemon(tmp_path_factory, "fast", warm=_warm_zygotes)


_fallbacks = fs.fallbacks


def _probe(daemon, name, runtime, event, memory=128, timeout=10, tags=None, tail=False):
    daemon.deploy(name, kh.make_zip({"probe.py": PROBE}), runtime=runtime,
                  handler="probe.handler", memory=memory, timeout=timeout, tags=tags)
    r = daemon.invoke(name, event, tail=tail)
    return r if tail else json.loads(r["payload"])


def _forked(daemon, name, runtime, event, **kw):
    """A probe that must have run in a forked environment (fs.until_forked)."""
    return fs.until_forked(daemon, name, lambda n: _probe(daemon, n, runtime, event, **kw))


# ----------------------------------------------------------------------------- answers


PY_EXAMPLES = [(fn, kind) for lang, fn, kind in ex.registered_examples() if lang == "python"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("function,kind", PY_EXAMPLES, ids=[f for f, _ in PY_EXAMPLES])
def test_examples_answer_as_without_fast_start(fast, fname, runtime, function, kind):
    code = ex.LANGUAGES["python"].package(ex.EXAMPLES / "python" / function)
    spec = ex.LANGUAGES["python"]
    fast.deploy(fname, code, runtime=runtime, handler=spec.handler(function),
                memory=spec.memory, timeout=spec.timeout)
    before = _fallbacks(fast)
    for i, (payload, check) in enumerate(te._steps("python", kind)):
        r = fast.invoke(fname, payload, tail=True)
        what = f"python/{function} on {runtime}, invoke #{i}"
        assert r["status"] == 200, what
        assert r["function_error"] is None, f"{what}: {r['payload'][:2000]!r}\n{r['log']}"
        check(json.loads(r["payload"]), r["headers"]["x-amzn-requestid"])
        report = kh.report_line(r["log"])
        if i == 0:
            # Init Duration: from environment creation to the runtime's first /next, as for an
            # exec'd environment.
            m = re.search(r"Init Duration: ([\d.]+) ms", report)
            assert m and float(m.group(1)) > 0, f"{what} was not a cold start: {report}"
        else:
            assert "Init Duration" not in report, f"{what} was not warm: {report}"
    assert _fallbacks(fast) == before, "the cold start fell back:\n" + fast.log_path.read_text()[-2000:]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_looks_like_an_execed_one(fast, fname, runtime):
    body = json.loads(_forked(fast, fname, runtime, {}, tail=True)["payload"])
    env = body["env"]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["_HANDLER"] == "probe.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # Nothing of the zygote's own environment leaks in.
    assert not any(k.startswith("KINDLING_ZYGOTE") for k in env), env
    assert body["argv"] == ["/var/runtime/bootstrap.py"]
    assert body["path"][0] == "/var/task"
    for entry in body["path"]:
        assert not entry.startswith(("/root", "/work", str(kh.REPO))), body["path"]
    # pid 2 under its namespace's init, as exec'd environments.
    assert body["pid"] == 2 and body["ppid"] == 1
    # The same, exec'd: the answers agree but for the per-environment values.
    slow = _probe(fast, fname + "-exec", runtime, {}, tags={"kindling:fast-start": "false"})
    assert slow["forked"] is False
    for key in ("LAMBDA_TASK_ROOT", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "LANG", "TZ",
                "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR", "LC_CTYPE"):
        assert env.get(key) == slow["env"].get(key), key
    assert set(env) - {"AWS_LAMBDA_FUNCTION_NAME"} == set(slow["env"]) - {"AWS_LAMBDA_FUNCTION_NAME"}
    assert body["path"] == slow["path"]
    assert body["prefix"] == slow["prefix"]
    # The zygote and its waiting stubs run below the default priority; an environment does not.
    assert body["nice"] == slow["nice"] == 0
    # The zygotes: a zygote.py process in the host's PID namespace only (its stubs, their
    # runtimes and the environments each have a PID namespace of their own).
    zygotes = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or b"runtimes/python/zygote.py" not in _read_bytes(d / "cmdline"):
            continue
        nspid = [l for l in _read_bytes(d / "status").decode().splitlines() if l.startswith("NSpid:")]
        stat = _read_bytes(d / "stat").decode()
        if nspid and len(nspid[0].split()) == 2 and stat:
            zygotes.append(int(stat.rsplit(")", 1)[1].split()[16]))  # field 19: nice
    assert zygotes and set(zygotes) == {10}, zygotes


LOGGER = r'''
import logging, sys
def handler(event, context):
    logging.getLogger().info("info-line %s", context.aws_request_id)
    logging.warning("warning-line\nsecond")
    print("print-line")
    return {"forked": getattr(sys.modules.get("__main__"), "__file__", "").endswith("zygote.py"),
            "level": logging.getLogger().level}
'''


@pytest.mark.parametrize("level,info_shown", [(None, False), ("INFO", True)])
def test_forked_environment_logs_as_an_execed_one(fast, fname, level, info_shown):
    """The zygote sets the runtime's stdio and log handler up before it forks; the level is
    still the environment's own (AWS_LAMBDA_LOG_LEVEL) and the records keep AWS's format."""
    env = {"AWS_LAMBDA_LOG_LEVEL": level} if level else None
    logs = {}
    for mode, tags in (("fast", None), ("exec", {"kindling:fast-start": "false"})):
        name = f"{fname}-{mode}"
        fast.deploy(name, kh.make_zip({"logger.py": LOGGER}), runtime="python3.11",
                    handler="logger.handler", env=env, tags=tags)
        r = fast.invoke(name, {}, tail=True)
        body = json.loads(r["payload"])
        assert body["forked"] is (mode == "fast"), body
        rid = r["headers"]["x-amzn-requestid"]
        lines = [l for l in r["log"].split("\n") if "-line" in l]
        assert any(re.fullmatch(r"\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + rid +
                                r"\twarning-line\rsecond", l) for l in lines), lines
        assert ("print-line" in lines) and (any("info-line " + rid in l for l in lines) is info_shown), lines
        logs[mode] = [re.sub(r"\t[^\t]*Z\t[0-9a-f-]+\t", "\t", l).replace(rid, "") for l in lines]
    assert logs["fast"] == logs["exec"]


# ----------------------------------------------------------------------------- uniqueness


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_forked_environments_differ_in_randomness_and_request_ids(fast, fname, runtime):
    a = json.loads(_forked(fast, fname + "-a", runtime, {}, tail=True)["payload"])
    b = json.loads(_forked(fast, fname + "-b", runtime, {}, tail=True)["payload"])
    assert a["random"] != b["random"]
    assert a["urandom"] != b["urandom"]
    assert a["rid"] != b["rid"]
    assert a["uid"] != b["uid"]


# ----------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_has_its_own_unprivileged_uid_and_no_privileges(fast, fname, runtime):
    status = _probe(fast, fname, runtime, {"op": "read", "path": "/proc/self/status"})
    assert status["forked"] is True
    text = status["content"]
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    assert uid >= 100000
    assert re.search(r"^CapEff:\s+0+$", text, re.M)
    assert re.search(r"^CapPrm:\s+0+$", text, re.M)
    assert re.search(r"^CapBnd:\s+0+$", text, re.M)
    assert re.search(r"^NoNewPrivs:\s+1$", text, re.M)
    assert re.search(r"^Seccomp:\s+2$", text, re.M)
    assert re.search(r"^Pid:\s+2$", text, re.M) and re.search(r"^PPid:\s+1$", text, re.M)
    calls = _forked(fast, fname + "-sys", runtime, {"op": "syscalls"})
    assert calls["mount"] == 1            # EPERM (seccomp)
    assert calls["unshare_user"] == 1     # EPERM (seccomp)
    assert calls["setuid0"] == 1          # EPERM (no CAP_SETUID)
    assert calls["kill_1"] in (1, 3)      # its init: EPERM (other uid)
    limits = _forked(fast, fname + "-lim", runtime, {"op": "read", "path": "/proc/self/limits"})
    assert re.search(r"^Max open files\s+1024\s+1024", limits["content"], re.M)
    assert re.search(r"^Max core file size\s+0\s+0", limits["content"], re.M)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_sees_no_host_files(fast, fname, runtime):
    for i, path in enumerate(["/root", str(kh.REPO), str(fast.data_dir), "/work",
                              "/sys/fs/cgroup"]):
        r = _forked(fast, f"{fname}-p{i}", runtime, {"op": "listdir", "path": path})
        assert "entries" not in r and r["errno"] == 2, (path, r)
    shadow = _forked(fast, fname + "-shadow", runtime, {"op": "read", "path": "/etc/shadow"})
    assert shadow["errno"] == 13
    task = _forked(fast, fname + "-task", runtime, {"op": "listdir", "path": "/var/task"})
    assert task["entries"] == ["probe.py"]
    # Only the namespace's own processes, and of those only its own uid's (hidepid).
    procs = _forked(fast, fname + "-proc", runtime, {"op": "listdir", "path": "/proc"})
    assert [e for e in procs["entries"] if e.isdigit()] == ["2"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_inherits_no_zygote_descriptors(fast, fname, runtime):
    fds = _forked(fast, fname, runtime, {"op": "fds"})["fds"]
    assert fds["0"] == "/dev/null"
    assert fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:")
    sockets = [t for fd, t in fds.items() if t.startswith("socket:")]
    assert len(sockets) <= 1, fds  # the Runtime API connection only, not the zygote's control
    others = {fd: t for fd, t in fds.items()
              if fd not in ("0", "1", "2") and not t.startswith("socket:")}
    # The listing's own directory fd is the only other one.
    assert len(others) <= 1, fds


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_own_tmp_not_shared_between_two_environments_of_one_function(fast, fname, runtime):
    fast.deploy(fname, kh.make_zip({"probe.py": PROBE}), runtime=runtime, handler="probe.handler",
                timeout=10)
    results = fs.tmp_of_two_environments(fast, fname)
    assert results["a"]["forked"] and results["b"]["forked"], results
    assert results["a"]["tmp"] == ["a"], results
    assert results["b"]["tmp"] == ["b"], results


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_memory_limit_kills_a_forked_environment_as_out_of_memory(fast, fname, runtime):
    r = _probe(fast, fname, runtime, {"op": "memhog", "mb": 400}, memory=128, timeout=60,
               tail=True)
    fs.assert_out_of_memory(r)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exit_status_of_a_forked_runtime_is_reported(fast, fname, runtime):
    # Warm it first (a forked environment), then make the runtime exit with a code.
    _forked(fast, fname, runtime, {})
    again = fs.exit_reported_then_replaced(fast, fname)
    assert again["forked"] is True  # a fresh forked environment replaced it


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cpu_share_applies_to_forked_environments(fast, fname, runtime):
    cg = _forked(fast, fname, runtime, {"op": "read", "path": "/proc/self/cgroup"})["content"]
    dirs = {}
    for line in cg.splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            if c:
                dirs[c] = Path("/sys/fs/cgroup") / c / path.lstrip("/")
    if "cpu" in dirs:
        assert int((dirs["cpu"] / "cpu.cfs_quota_us").read_text()) == min(7236, os.cpu_count() * 100000)
        assert int((dirs["memory"] / "memory.limit_in_bytes").read_text()) == 128 << 20
    else:
        path = [l.split(":", 2)[2] for l in cg.splitlines() if l.startswith("0::")][0]
        d = Path("/sys/fs/cgroup") / path.lstrip("/")
        assert (d / "cpu.max").read_text().split()[0] == str(min(7236, os.cpu_count() * 100000))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_cannot_use_the_daemon_api(fast, fname, runtime):
    api = _forked(fast, fname, runtime, {"op": "connect", "address": f"127.0.0.1:{fast.port}"})
    assert api["connected"] is True and api["http_answered"] is False
    other = _forked(fast, fname + "-a", runtime, {})["env"]["AWS_LAMBDA_RUNTIME_API"]
    probe = _forked(fast, fname + "-b", runtime, {"op": "connect", "address": other})
    assert probe["http_answered"] is False
    assert fast.http("GET", "/kindling/v1/health")[0] == 200


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_forked_environment_with_network_none_is_in_its_own_network_namespace(fast, fname, runtime):
    """The runtime, forked before its request, joins the network namespace its stub made for
    it: loopback only (the daemon's port refused there), and its Runtime API still answers."""
    none = {"kindling:network": "none"}
    probe = _forked(fast, fname, runtime, {"op": "connect", "address": f"127.0.0.1:{fast.port}"},
                    tags=none)
    assert probe["connected"] is False and probe["errno"] == 111, probe  # ECONNREFUSED
    assert fast.invoke(fname, {"op": "whoami"})["function_error"] is None  # warm, same API


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_is_forked_ahead_of_its_request(fast, fname, runtime):
    """The runtime process of a forked environment exists before the invoke that creates the
    environment (kd_zygote_fork_ahead: forked while its stub waits, then isolated and confined
    on the request), and is still the environment's pid 2 with its own hostname."""
    _forked(fast, fname + "-first", runtime, {})  # the zygote is up; its stubs refill now
    fast.deploy(fname, kh.make_zip({"probe.py": PROBE}), runtime=runtime, handler="probe.handler")
    time.sleep(0.5)  # every stub ready now was forked at least this long ago
    invoked = time.clock_gettime(time.CLOCK_BOOTTIME)
    body = json.loads(fast.invoke(fname, {"op": "started"})["payload"])
    if not body["forked"]:
        pytest.fail("not forked:\n" + fast.log_path.read_text()[-2000:])
    # Ticks of 10 ms: a runtime forked on the request would start at or after `invoked`.
    assert body["start_s"] < invoked - 0.2, (body, invoked)
    assert body["hostname"] != "kindling-zygote"


def test_zygote_learns_an_environments_first_writes_and_leaves_no_probe(fast):
    """Each Python zygote runs its two probes once at start (zygote.py, _learn_first_writes)
    and says how many of its pages a start writes; the probes leave nothing behind."""
    log = fast.log_path.read_text()
    for runtime in RUNTIMES:
        m = re.search(rf"kindling zygote: {re.escape(runtime)}: an environment's start writes "
                      r"(\d+) of the zygote's pages", log)
        if m is None and f"zygote {runtime}:" not in log:
            continue  # that interpreter is not installed here
        assert m is not None, log[-3000:]
        assert 50 < int(m.group(1)) < 5000, m.group(0)
    assert "learning an environment's first writes" not in log
    assert not list(Path("/tmp").glob("kindling-zygote-probe-*"))


# ----------------------------------------------------------------------------- switches, fallback


def test_tag_turns_fast_start_off_per_function(fast, fname):
    off = _probe(fast, fname, "python3.11", {}, tags={"kindling:fast-start": "false"})
    assert off["forked"] is False
    on = _probe(fast, fname + "-on", "python3.11", {}, tags={"kindling:fast-start": "true"})
    assert on["forked"] is True


def test_interpreter_startup_variables_fall_back_with_a_log_line(fast, fname):
    fast.deploy(fname, kh.make_zip({"probe.py": PROBE}), runtime="python3.11",
                handler="probe.handler", env={"PYTHONHASHSEED": "0"})
    body = json.loads(fast.invoke(fname, {})["payload"])
    assert body["forked"] is False
    assert f"fast start: {fname} starts normally: environment variable PYTHONHASHSEED" in \
        fast.log_path.read_text()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_handler_that_starts_a_thread_at_import_is_correct(fast, fname, runtime):
    fast.deploy(fname, kh.make_zip({"app.py": THREADED}), runtime=runtime, handler="app.handler")
    for _ in range(2):
        body = json.loads(fast.invoke(fname, {})["payload"])
        assert body == {"threads": 2, "ticks": True, "forked": True}
    # The zygote itself stays single-threaded: later environments are still forked.
    assert _probe(fast, fname + "-next", runtime, {})["forked"] is True


def test_fast_start_off_execs_every_runtime(tmp_path, fname):
    # Explicitly off (the flag wins over $KINDLING_FAST_START).
    d = kh.Daemon(tmp_path / "data", extra_args=["--fast-start", "off"]).start()
    try:
        log = d.log_path.read_text()
        if "sandbox: spawner pid" not in log:
            pytest.skip("the daemon is not using the Linux sandbox here")
        assert "fast start: on" not in log
        for i in range(2):  # the second would be forked if a zygote had been started
            assert _probe(d, f"{fname}-{i}", "python3.11", {})["forked"] is False
            time.sleep(0.5)
        assert "zygote" not in d.log_path.read_text()
    finally:
        assert d.stop() == 0


def test_create_function_starts_the_zygote_and_the_first_cold_start_is_forked(tmp_path, fname):
    """CreateFunction starts the runtime's zygote (Engine::prewarm), so a function's very first
    cold start is forked instead of exec'd while its zygote starts; a restarted daemon does the
    same for the functions it loads."""
    d = kh.Daemon(tmp_path / "data", extra_args=["--fast-start", "on"]).start()
    try:
        log = d.log_path.read_text()
        if "sandbox: spawner pid" not in log or "fast start: on" not in log:
            pytest.skip("fast start needs the Linux sandbox with isolation here")
        d.deploy(fname, kh.make_zip({"probe.py": PROBE}), runtime="python3.11",
                 handler="probe.handler")
        fs.wait_for_zygote(d, "python3.11", timeout=60)  # no invoke yet
        body = json.loads(d.invoke(fname, {})["payload"])
        assert body["forked"] is True, d.log_path.read_text()[-2000:]
        assert "its zygote is starting" not in d.log_path.read_text()
    finally:
        assert d.stop() == 0
    d = kh.Daemon(tmp_path / "data", extra_args=["--fast-start", "on"]).start()
    try:
        fs.wait_for_zygote(d, "python3.11", timeout=60)
    finally:
        assert d.stop() == 0


def test_zygote_refuses_to_fork_with_other_threads():
    """The /proc/self/task check of libkindling_zygote.so, in this (test) process: with a
    second thread running, kd_zygote_fork answers -EBUSY before cloning anything."""
    lib_path = Path(kh.BIN).parent / "libkindling_zygote.so"
    if not lib_path.exists():
        pytest.skip(f"{lib_path} not built")
    lib = ctypes.CDLL(str(lib_path))
    lib.kd_zygote_fork.restype = ctypes.c_long
    lib.kd_zygote_fork.argtypes = (ctypes.c_char_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int)
    baseline = lib.kd_zygote_threads()  # threads other tests (or libraries) left running
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert lib.kd_zygote_threads() == baseline + 1
        prepare = bytes(20)  # no cgroups, no PID namespace, zygote 0, no /tmp device or staging
        fds = (ctypes.c_int * 6)(*([0] * 6))
        assert lib.kd_zygote_fork(prepare, len(prepare), fds, 6) == -16  # -EBUSY
        assert lib.kd_zygote_fork(b"\x01", 1, fds, 6) == -22  # malformed: -EINVAL
        lib.kd_zygote_fork_ahead.restype = ctypes.c_long
        lib.kd_zygote_fork_ahead.argtypes = lib.kd_zygote_fork.argtypes
        with_pid_ns = bytearray(prepare)
        with_pid_ns[4] = 1  # PrepareRequest flags (after the empty cgroup list): new PID namespace
        for body in (prepare, bytes(with_pid_ns)):
            assert lib.kd_zygote_fork_ahead(body, len(body), fds, 6) == -16
        assert lib.kd_zygote_fork_ahead(b"\x01", 1, fds, 6) == -22
    finally:
        stop.set()
        t.join()
    # join() returns before the kernel has removed the thread's /proc/self/task entry.
    deadline = time.time() + 5
    while lib.kd_zygote_threads() != baseline and time.time() < deadline:
        time.sleep(0.01)
    assert lib.kd_zygote_threads() == baseline


def test_zygote_abi_first_writes_and_await_outside_a_runtime_forked_ahead():
    """kd_zygote_touch_set takes page-aligned (address, page count) pairs and refuses others;
    outside a runtime forked ahead kd_zygote_pending is 0 and kd_zygote_await returns at once."""
    lib_path = Path(kh.BIN).parent / "libkindling_zygote.so"
    if not lib_path.exists():
        pytest.skip(f"{lib_path} not built")
    lib = ctypes.CDLL(str(lib_path))
    lib.kd_zygote_touch_set.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
    page = os.sysconf("SC_PAGE_SIZE")
    pairs = lambda *v: b"".join(x.to_bytes(8, "little") for x in v)  # noqa: E731
    assert lib.kd_zygote_touch_set(pairs(16 * page, 2, 64 * page, 1), 2) == 0
    assert lib.kd_zygote_touch_set(pairs(16 * page + 8, 1), 1) == 22  # not page-aligned
    assert lib.kd_zygote_touch_set(pairs(16 * page, 0), 1) == 22  # no pages
    assert lib.kd_zygote_touch_set(pairs(2**64 - page, 2), 1) == 22  # past the address space
    assert lib.kd_zygote_touch_set(None, 0) == 0
    assert lib.kd_zygote_pending() == 0
    assert lib.kd_zygote_await() == 0
