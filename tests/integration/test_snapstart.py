"""Lambda SnapStart's API semantics on the real daemon with boto3: SnapStart on
create/update/get-configuration, OptimizationStatus On for versions published with it, the
snap-start flow of kindling's Python runtime (snapshot_restore_py hooks, restore/next,
restore/error -> Runtime.AfterRestoreError), REPORT's Restore Duration for the first invoke
of a restored environment (Init Duration on $LATEST), AWS's error for runtimes without
SnapStart, and durability across a restart."""
import json
import re

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

RUNTIME = "python3.12"

# Hooks count how often they ran in this environment; the handler reports it with the
# environment's identity, the init type, the log variables and a random number.
HOOKS_APP = '''
import os, random
from snapshot_restore_py import register_before_snapshot, register_after_restore

COUNTS = {"before": 0, "after": 0}
ORDER = []

@register_before_snapshot
def first_registered():
    COUNTS["before"] += 1
    ORDER.append("before-1")

def second_registered(tag, sep="-"):
    ORDER.append("before" + sep + tag)

register_before_snapshot(second_registered, "2")

@register_after_restore
def reconnect():
    COUNTS["after"] += 1
    ORDER.append("after")
    if os.environ.get("FAIL_AFTER_RESTORE"):
        raise ConnectionError("cannot reach the database after restore")

def handler(event, context):
    return {"counts": COUNTS, "order": ORDER, "pid": os.getpid(),
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
            "random": random.random(), "version": context.function_version}
'''


def hooks_zip() -> bytes:
    return kh.make_zip({"app.py": (HOOKS_APP.encode(), 0o644)})


def deploy(d, name, snap_start="PublishedVersions", runtime=RUNTIME, env=None):
    kwargs = dict(FunctionName=name, Runtime=runtime, Role=kh.ROLE, Handler="app.handler",
                  Code={"ZipFile": hooks_zip()}, Timeout=10)
    if snap_start is not None:
        kwargs["SnapStart"] = {"ApplyOn": snap_start}
    if env:
        kwargs["Environment"] = {"Variables": env}
    return d.client().create_function(**kwargs)


def call(d, name, qualifier=None):
    r = d.invoke(name, {}, tail=True, qualifier=qualifier)
    assert r["status"] == 200, r
    assert r["function_error"] is None, r["payload"]
    return json.loads(r["payload"]), kh.report_line(r["log"])


def test_create_get_update_shape(daemon, fname):
    c = daemon.client()
    created = deploy(daemon, fname)
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    got = c.get_function_configuration(FunctionName=fname)
    assert got["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert c.get_function(FunctionName=fname)["Configuration"]["SnapStart"]["ApplyOn"] \
        == "PublishedVersions"
    updated = c.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "None"})
    assert updated["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert c.get_function_configuration(FunctionName=fname)["SnapStart"]["ApplyOn"] == "None"
    # Without SnapStart in the request the setting stays.
    c.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "PublishedVersions"})
    c.update_function_configuration(FunctionName=fname, Timeout=11)
    assert c.get_function_configuration(FunctionName=fname)["SnapStart"]["ApplyOn"] \
        == "PublishedVersions"
    # A function created without SnapStart answers None/Off (AWS's shape, always present).
    other = deploy(daemon, fname + "-plain", snap_start=None)
    assert other["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_publish_turns_optimization_on_only_for_versions(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    v1 = c.publish_version(FunctionName=fname)
    assert v1["Version"] == "1"
    assert v1["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert c.get_function_configuration(FunctionName=fname, Qualifier="1")["SnapStart"] \
        == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    c.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "None"})
    v2 = c.publish_version(FunctionName=fname)
    assert v2["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    versions = {v["Version"]: v["SnapStart"]
                for v in c.list_versions_by_function(FunctionName=fname)["Versions"]}
    assert versions == {
        "$LATEST": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "1": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"},
        "2": {"ApplyOn": "None", "OptimizationStatus": "Off"},
    }


def test_unsupported_runtime_gets_aws_error(daemon, fname):
    c = daemon.client()
    for runtime in ("python3.11", "nodejs20.x", "ruby3.2", "provided.al2023"):
        with pytest.raises(ClientError) as e:
            deploy(daemon, f"{fname}-{runtime.replace('.', '-')}", runtime=runtime)
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err["Error"]["Code"] == "InvalidParameterValueException"
        assert err["Error"]["Message"] == \
            f"{runtime} is not supported for SnapStart enabled functions."
    # An enum value AWS does not know: ValidationException (botocore would refuse it itself).
    deploy(daemon, fname, snap_start=None)
    raw = daemon.client(validate=False)
    with pytest.raises(ClientError) as e:
        raw.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "Always"})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [PublishedVersions, None]" \
        in e.value.response["Error"]["Message"]
    # Moving a SnapStart function to a runtime without SnapStart is refused too.
    c.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "PublishedVersions"})
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname, Runtime="python3.11")
    assert e.value.response["Error"]["Message"] == \
        "python3.11 is not supported for SnapStart enabled functions."


def test_version_invokes_restore_and_latest_inits(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    c.publish_version(FunctionName=fname)

    cold, report = call(daemon, fname, qualifier="1")
    assert cold["init_type"] == "snap-start"
    assert cold["version"] == "1"
    # AWS: no log group/stream variables in SnapStart functions.
    assert cold["log_stream"] is None
    # Hooks ran once each; before-snapshot hooks in reverse registration order.
    assert cold["counts"] == {"before": 1, "after": 1}
    assert cold["order"] == ["before-2", "before-1", "after"]
    m = re.search(r"\tRestore Duration: ([0-9.]+) ms\tBilled Restore Duration: ([0-9]+) ms\t$",
                  report)
    assert m, report
    assert "Init Duration" not in report
    assert int(m.group(2)) >= float(m.group(1)) > 0
    billed = int(re.search(r"\tBilled Duration: ([0-9]+) ms", report).group(1))
    duration = float(re.search(r"\tDuration: ([0-9.]+) ms", report).group(1))
    assert billed < duration + 1  # the restore is not folded into Billed Duration

    warm, report = call(daemon, fname, qualifier="1")
    assert warm["pid"] == cold["pid"]
    assert warm["counts"] == {"before": 1, "after": 1}  # once per environment
    assert "Restore Duration" not in report and "Init Duration" not in report

    latest, report = call(daemon, fname)
    assert latest["init_type"] == "on-demand"
    assert latest["counts"] == {"before": 0, "after": 0}  # no hooks outside snap-start
    assert latest["log_stream"]
    assert "\tInit Duration: " in report and "Restore Duration" not in report


def test_after_restore_error_fails_the_environment(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname, env={"FAIL_AFTER_RESTORE": "1"})
    c.publish_version(FunctionName=fname)
    for _ in range(2):  # every new environment fails the same way
        r = daemon.invoke(fname, {}, tail=True, qualifier="1")
        assert r["status"] == 200
        assert r["function_error"] == "Unhandled"
        body = json.loads(r["payload"])
        assert body["errorType"] == "Runtime.AfterRestoreError"
        assert body["errorMessage"] == "cannot reach the database after restore"
        assert "RESTORE_REPORT Restore Duration: " in r["log"]
        assert "Error Type: Runtime.AfterRestoreError" in r["log"]
        assert "\tRestore Duration: " in kh.report_line(r["log"])
    # $LATEST never runs after-restore hooks: it works.
    assert call(daemon, fname)[0]["counts"] == {"before": 0, "after": 0}


def test_snap_start_survives_a_restart(tmp_path, fname):
    d = kh.Daemon(tmp_path / "data").start()
    try:
        c = d.client()
        deploy(d, fname)
        c.publish_version(FunctionName=fname)
        c.update_function_configuration(FunctionName=fname, SnapStart={"ApplyOn": "None"})
        assert d.stop() == 0
        d.start()
        c = d.client()
        assert c.get_function_configuration(FunctionName=fname)["SnapStart"] \
            == {"ApplyOn": "None", "OptimizationStatus": "Off"}
        assert c.get_function_configuration(FunctionName=fname, Qualifier="1")["SnapStart"] \
            == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
        cold, report = call(d, fname, qualifier="1")
        assert cold["init_type"] == "snap-start"
        assert "\tRestore Duration: " in report
    finally:
        assert d.stop() == 0
