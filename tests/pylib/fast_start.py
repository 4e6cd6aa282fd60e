"""Shared by the fast-start tests (test_fast_start.py, test_fast_start_ruby.py,
test_snapshot_fork.py): a module-scoped daemon with fast start on, and waiting for a runtime's
zygote to be ready, so that the cold starts that follow are forks."""
from __future__ import annotations

import re
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
