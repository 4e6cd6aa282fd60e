"""SnapStart with AWS's own Python runtime interface client: a python3.12 function with
SnapStart on that brings awslambdaric (and AWS's snapshot-restore-py) in its package, published
as a version and invoked cold and warm.

awslambdaric takes the snap-start flow itself when AWS_LAMBDA_INITIALIZATION_TYPE=snap-start
(bootstrap.py `on_init_complete`): before-snapshot hooks, GET /runtime/restore/next,
after-restore hooks, or POST /runtime/restore/error when one fails. The function's module
`ric_shim` hands the environment over to awslambdaric at import time (exec of
`python3.11 -m awslambdaric hooks_app.handler`: the client zip from scripts/build-compat.sh
carries awslambdaric's native extension for /usr/bin/python3.11), so everything the Runtime
API sees comes from the official client. Uses the `daemon` fixture from tests/conftest.py."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

import kindling_harness as kh

SHIM = '''
"""Replaces kindling's Python runtime with AWS's awslambdaric (same process, same sandbox)."""
import os
env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
os.execve("/usr/bin/python3.11", ["/usr/bin/python3.11", "-m", "awslambdaric",
                                  "hooks_app.handler"], env)
'''

HOOKS_APP = '''
import os, sys
import snapshot_restore_py
from snapshot_restore_py import register_before_snapshot, register_after_restore

COUNTS = {"before": 0, "after": 0}
ORDER = []

@register_before_snapshot
def first():
    COUNTS["before"] += 1
    ORDER.append("before-1")

register_before_snapshot(lambda tag: ORDER.append("before-" + tag), "2")

@register_after_restore
def after(greeting="restored"):
    COUNTS["after"] += 1
    ORDER.append("after:" + greeting)
    if os.environ.get("FAIL_AFTER_RESTORE"):
        raise ConnectionError("after-restore hook failed on purpose")

def handler(event, context):
    return {"counts": COUNTS, "order": ORDER, "pid": os.getpid(),
            "client": "awslambdaric" in sys.modules,
            "hooks_module": snapshot_restore_py.__file__,
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
'''


def snapstart_zip(python_zip: bytes) -> bytes:
    """The awslambdaric client zip plus the shim and the hooks module."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(python_zip)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for name, text in (("ric_shim.py", SHIM), ("hooks_app.py", HOOKS_APP)):
            entry = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, text)
    return out.getvalue()


@pytest.fixture
def python_client_zip(compat_zips) -> bytes:
    path = compat_zips["python"]
    if not path.is_file():
        pytest.skip(f"{path} not built (run scripts/build-compat.sh python)")
    return path.read_bytes()


def deploy(daemon, name, zip_bytes, env=None):
    kwargs = dict(FunctionName=name, Runtime="python3.12", Role=kh.ROLE, Handler="ric_shim.none",
                  Code={"ZipFile": zip_bytes}, Timeout=15, MemorySize=256,
                  SnapStart={"ApplyOn": "PublishedVersions"})
    if env:
        kwargs["Environment"] = {"Variables": env}
    c = daemon.client()
    c.create_function(**kwargs)
    version = c.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    return version["Version"]


def test_awslambdaric_runs_hooks_and_restore_on_a_snapstart_version(daemon, python_client_zip):
    name = "compat-python-snapstart"
    version = deploy(daemon, name, snapstart_zip(python_client_zip))

    cold = daemon.invoke(name, b"{}", tail=True, qualifier=version)
    assert cold["status"] == 200
    assert cold["function_error"] is None, cold["payload"]
    body = json.loads(cold["payload"])
    assert body["client"] is True
    assert body["hooks_module"] == "/var/task/snapshot_restore_py.py" or \
        body["hooks_module"].endswith("/snapshot_restore_py.py")
    assert body["init_type"] == "snap-start"
    # awslambdaric: before-snapshot hooks pop from the end, after-restore hooks in order.
    assert body["counts"] == {"before": 1, "after": 1}
    assert body["order"] == ["before-2", "before-1", "after:restored"]
    report = kh.report_line(cold["log"])
    assert re.search(r"\tRestore Duration: [0-9.]+ ms\tBilled Restore Duration: [0-9]+ ms\t$",
                     report), report
    assert "Init Duration" not in report

    warm = daemon.invoke(name, b"{}", tail=True, qualifier=version)
    assert warm["function_error"] is None, warm["payload"]
    again = json.loads(warm["payload"])
    assert again["pid"] == body["pid"]
    assert again["counts"] == {"before": 1, "after": 1}  # hooks run once per environment
    report = kh.report_line(warm["log"])
    assert "Restore Duration" not in report and "Init Duration" not in report


def test_awslambdaric_restore_error_is_after_restore_error(daemon, python_client_zip):
    name = "compat-python-snapstart-fail"
    version = deploy(daemon, name, snapstart_zip(python_client_zip),
                     env={"FAIL_AFTER_RESTORE": "1"})
    r = daemon.invoke(name, b"{}", tail=True, qualifier=version)
    assert r["status"] == 200
    assert r["function_error"] == "Unhandled"
    body = json.loads(r["payload"])
    assert body["errorType"] == "Runtime.AfterRestoreError"
    assert body["errorMessage"] == "after-restore hook failed on purpose"
    assert "Error Type: Runtime.AfterRestoreError" in r["log"]
