"""Daemon life cycle: durability across restarts, clean shutdown, CLI."""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import kindling_harness as kh


def _descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.splitlines():
        p, pp = (int(x) for x in line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def _children(pid):
    """The daemon's environment processes: its descendants whose environment names a function
    (not its spawner, warm stubs, PID-namespace inits or helper tools such as mkfs.ext4)."""
    envs = []
    for child in _descendants(pid):
        try:
            with open(f"/proc/{child}/environ", "rb") as f:
                if b"\0AWS_LAMBDA_FUNCTION_NAME=" in b"\0" + f.read():
                    envs.append(child)
        except OSError:
            continue  # already gone
    return envs


def test_restart_keeps_functions(tmp_path):
    d = kh.Daemon(tmp_path / "data").start()
    try:
        d.deploy("durable", kh.payload_zip(), handler="echo", memory=300, env={"KEY": "V"},
                 tags={"t": "1"})
        assert d.invoke("durable", {"a": 1})["status"] == 200
        sha = d.client().get_function(FunctionName="durable")["Configuration"]["CodeSha256"]
    finally:
        assert d.stop() == 0
    d.start()
    try:
        conf = d.client().get_function(FunctionName="durable")
        assert conf["Configuration"]["MemorySize"] == 300
        assert conf["Configuration"]["Environment"] == {"Variables": {"KEY": "V"}}
        assert conf["Configuration"]["CodeSha256"] == sha
        assert conf["Tags"] == {"t": "1"}
        assert json.loads(d.invoke("durable", {"b": 2})["payload"]) == {"b": 2}
    finally:
        assert d.stop() == 0


def test_sigterm_stops_every_environment(tmp_path):
    d = kh.Daemon(tmp_path / "data").start()
    d.deploy("busy", kh.payload_zip(), handler="sleep:1500", timeout=10)
    d.deploy("idle", kh.payload_zip(), handler="echo")
    d.invoke("idle", {})
    results = []
    t = threading.Thread(target=lambda: results.append(d.invoke("busy", {})))
    t.start()
    time.sleep(0.5)
    pid = d.proc.pid
    envs = _children(pid)
    assert len(envs) == 2
    everything = _descendants(pid)
    assert d.stop(signal.SIGTERM) == 0
    t.join(10)
    # The in-flight invocation finished (grace period) before the environments were stopped.
    assert results and results[0]["function_error"] is None
    # Nothing the daemon started is left: environments, spawner, warm stubs.
    alive = [p for p in everything if os.path.exists(f"/proc/{p}") and
             open(f"/proc/{p}/stat").read().split()[2] != "Z"]
    assert alive == [], alive
    assert not list(Path("/sys/fs/cgroup").glob(f"*/kindling-{pid}")), "cgroups left behind"


def test_idle_environments_are_reaped_after_keep_alive(tmp_path):
    d = kh.Daemon(tmp_path / "data", keep_alive=1).start()
    try:
        d.deploy("reaped", kh.payload_zip())
        d.invoke("reaped", {})
        pid = d.proc.pid
        assert len(_children(pid)) == 1
        deadline = time.time() + 15
        while _children(pid) and time.time() < deadline:
            time.sleep(0.2)
        assert _children(pid) == []
        r = d.invoke("reaped", {}, tail=True)
        assert "Init Duration" in kh.report_line(r["log"])
    finally:
        d.stop()


def test_kindling_cli_against_daemon(daemon, fname, tmp_path):
    env = {**os.environ, "KINDLING_ENDPOINT": daemon.endpoint}
    code = tmp_path / "code"
    code.mkdir()
    (code / "bootstrap").write_bytes(kh.PAYLOAD.read_bytes())
    (code / "bootstrap").chmod(0o755)
    run = lambda *a: subprocess.run([str(kh.BIN), *a], env=env, capture_output=True, text=True,
                                    timeout=60)
    r = run("deploy", fname, "--runtime", "provided.al2023", "--handler", "echo", "--code",
            str(code), "--memory", "256")
    assert r.returncode == 0, r.stderr
    r = run("invoke", fname, "--payload", '{"x": 1}')
    assert r.returncode == 0, r.stderr
    assert '{"x": 1}' in r.stdout or '{"x":1}' in r.stdout
    assert "REPORT" in r.stdout or "REPORT" in r.stderr
    r = run("ls")
    assert fname in r.stdout
    r = run("logs", fname)
    assert r.returncode == 0 and "START RequestId:" in r.stdout
    r = run("rm", fname)
    assert r.returncode == 0, r.stderr


def test_demo_finds_the_repository_from_the_binary_and_runs_every_runtime():
    """`./build/kindling demo` (README's first command): no KINDLING_HOME, so the binary finds
    runtimes/ and examples/ by walking up from itself past the build tree."""
    env = {k: v for k, v in os.environ.items() if k != "KINDLING_HOME"}
    env["KINDLING_ENDPOINT"] = f"http://127.0.0.1:{kh.free_port()}"  # embedded daemon there
    r = subprocess.run([str(kh.BIN), "demo"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for label in ("python", "node", "ruby", "provided"):
        assert f"[{label}] kindling-demo-{label}" in r.stdout
    assert r.stdout.count("Hello, kindling!") >= 6, r.stdout  # python, node, ruby: cold + warm
    assert "mount()" not in r.stdout + r.stderr
