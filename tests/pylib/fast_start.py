"""Shared by the fast-start tests (test_fast_start.py, test_fast_start_ruby.py,
test_snapshot_fork.py): a module-scoped daemon with fast start on, and waiting for a runtime's
zygote to be ready, so that the cold starts that follow are forks."""
from __future__ import annotations

import json
import re
import threading
import time

import pytest

import kindling_harness as kh


def fast_daemon(tmp_path_factory, label, needs="fast start", warm=None):
    """Generator for a module fixture: a daemon with `--fast-start on`; skips (saying what
    `needs` it) without the Linux sandbox; `warm(daemon)` runs before it is handed out. Fails
    the module if the daemon does not exit 0."""
    if not kh.BIN.exists():
        pytest.fail(f"kindling binary not built: {kh.BIN}")
    d = kh.Daemon(tmp_path_factory.mktemp(label) / "data",
                  extra_args=["--fast-start", "on"]).start()
    try:
        log = d.log_path.read_text()
        if "sandbox: spawner pid" not in log or "fast start: on" not in log:
            pytest.skip(f"{needs} needs the Linux sandbox with isolation (root, cgroups): "
                        + "\n".join(l for l in log.splitlines() if "sandbox" in l or "fast" in l))
        if warm is not None:
            warm(d)
        yield d
    finally:
        rc = d.stop()
    assert rc == 0, f"daemon exited with {rc}: " + d.log_path.read_text()[-3000:]


def wait_for_zygote(daemon, runtime, timeout=60):
    """Waits until the daemon log says the zygote of `runtime` is ready (then a little longer:
    its first stubs are forked right after); fails when it never is, or is unusable."""
    deadline = time.time() + timeout
    ready = re.compile(rf"fast start: zygote {re.escape(runtime)}:\S+ ready")
    unusable = re.compile(rf"zygote {re.escape(runtime)}:\S+ \(pid -?\d+\) unusable")
    while time.time() < deadline:
        log = daemon.log_path.read_text()
        if ready.search(log):
            time.sleep(0.5)
            return
        if unusable.search(log):
            break
        time.sleep(0.1)
    pytest.fail(f"the {runtime} zygote never became ready:\n" + daemon.log_path.read_text()[-3000:])


def fallbacks(daemon):
    """How many cold starts fell back from a fork to an exec so far."""
    return daemon.log_path.read_text().count("falls back to a normal cold start")


def until_forked(daemon, name, probe):
    """A probe that must have run in a forked environment: `probe(name)` deploys and invokes a
    function called `name` and returns the invoke's answer (a dict with "payload", or the
    decoded payload), whose body says "forked". A cold start may rightly fall back when every
    forked stub is taken (the refiller forks more in the background): then the probe runs again
    as a new function, a few times at most. Returns what `probe` returned."""
    body = None
    for attempt in range(4):
        before = daemon.log_path.read_text().count("no forked stub is ready")
        r = probe(name if attempt == 0 else f"{name}-r{attempt}")
        body = json.loads(r["payload"]) if "payload" in r else r
        if body.get("forked") is True:
            return r
        if daemon.log_path.read_text().count("no forked stub is ready") == before:
            break
        time.sleep(0.5)
    pytest.fail(f"not a forked environment: {body}\n" + daemon.log_path.read_text()[-2000:])


def tmp_of_two_environments(daemon, name, hold_s=1.0):
    """Two invocations of the deployed function `name` at once, the first holding its
    environment `hold_s` seconds so that the second gets one of its own; each writes a file named
    after it ("a", "b") into /tmp and lists /tmp (the probes' "write_tmp" op). Returns both
    answers by name."""
    daemon.client()  # created before the threads share it
    results = {}

    def call(tag, hold):
        r = daemon.invoke(name, {"op": "write_tmp", "name": tag, "hold_s": hold})
        results[tag] = json.loads(r["payload"])

    first = threading.Thread(target=call, args=("a", hold_s))
    first.start()
    time.sleep(hold_s / 3)
    call("b", 0)
    first.join()
    return results


def exit_reported_then_replaced(daemon, name, code=3):
    """Makes the warm runtime of function `name` exit with `code` during an invoke (the probes'
    "exit" op), checks that the invoke answers Lambda's Runtime.ExitError for it, and returns the
    next invoke's answer, which a fresh environment gives."""
    r = daemon.invoke(name, {"op": "exit", "code": code}, tail=True)
    rid = r["headers"]["x-amzn-requestid"]
    assert json.loads(r["payload"]) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status {code}"}
    return json.loads(daemon.invoke(name, {})["payload"])


def assert_out_of_memory(r):
    """`r` (an invoke with its log tail) answers Lambda's Runtime.OutOfMemory: the environment's
    memory cgroup killed its runtime."""
    rid = r["headers"]["x-amzn-requestid"]
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
