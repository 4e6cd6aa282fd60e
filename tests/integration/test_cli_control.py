"""The control-plane CLI against a real daemon: `kindling publish`, `alias ...`, `concurrency ...`
and `deploy` updating in place (--publish, --replace). The kindling binary runs as a subprocess
with KINDLING_ENDPOINT pointing at the session daemon; boto3 double-checks what it changed."""
import json
import os
import subprocess
import time

import kindling_harness as kh

RUNTIME = "python3.11"

HANDLER = '''
import os

def handler(event, context):
    return {{"marker": "{marker}", "version": context.function_version,
             "color": os.environ.get("COLOR"), "memory": int(context.memory_limit_in_mb)}}
'''


def write_code(directory, marker):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(HANDLER.format(marker=marker))
    return directory


def cli(daemon, *args):
    env = {**os.environ, "KINDLING_ENDPOINT": daemon.endpoint}
    return subprocess.run([str(kh.BIN), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def ok(daemon, *args):
    r = cli(daemon, *args)
    assert r.returncode == 0, f"kindling {' '.join(args)}: rc={r.returncode}\n{r.stderr}{r.stdout}"
    return r


def fails(daemon, *args, rc=2):
    r = cli(daemon, *args)
    assert r.returncode == rc, f"kindling {' '.join(args)}: rc={r.returncode}\n{r.stderr}{r.stdout}"
    return r


def deploy(daemon, name, code_dir, *extra):
    return ok(daemon, "deploy", name, "--runtime", RUNTIME, "--handler", "app.handler", "--code",
              str(code_dir), "--timeout", "30", *extra)


def invoke(daemon, name, qualifier=None):
    args = ["invoke", name] + (["--qualifier", qualifier] if qualifier else [])
    r = ok(daemon, *args)
    return json.loads(r.stdout.splitlines()[0])


def test_deploy_twice_updates_in_place_and_publishes(daemon, fname, tmp_path):
    r = deploy(daemon, fname, write_code(tmp_path / "v1", "v1"), "--env", "COLOR=red")
    assert r.stdout.startswith(f"created {fname}"), r.stdout
    first = invoke(daemon, fname)
    assert first["marker"] == "v1" and first["color"] == "red" and first["memory"] == 128

    r = deploy(daemon, fname, write_code(tmp_path / "v2", "v2"), "--env", "COLOR=blue",
               "--memory", "256")
    assert r.stdout.startswith(f"updated {fname}"), r.stdout
    assert "256 MB" in r.stdout and "published" not in r.stdout
    second = invoke(daemon, fname)
    assert second == {"marker": "v2", "version": "$LATEST", "color": "blue", "memory": 256}
    conf = daemon.client().get_function_configuration(FunctionName=fname)
    assert conf["Environment"]["Variables"] == {"COLOR": "blue"} and conf["Timeout"] == 30

    # --publish on an update: the version holds this deploy's code *and* configuration.
    r = deploy(daemon, fname, write_code(tmp_path / "v3", "v3"), "--memory", "192", "--publish")
    assert r.stdout.startswith(f"updated {fname}"), r.stdout
    assert "published version 1" in r.stdout, r.stdout
    v1 = invoke(daemon, fname, "1")
    assert v1 == {"marker": "v3", "version": "1", "color": None, "memory": 192}
    assert invoke(daemon, fname)["marker"] == "v3"
    r = deploy(daemon, fname, write_code(tmp_path / "v4", "v4"), "--publish")
    assert "published version 2" in r.stdout, r.stdout
    assert invoke(daemon, fname, "2")["marker"] == "v4"
    assert invoke(daemon, fname, "1")["marker"] == "v3"  # versions are immutable

    # --replace keeps its meaning: delete + create (versions start again).
    r = deploy(daemon, fname, write_code(tmp_path / "v5", "v5"), "--replace", "--publish")
    assert r.stdout.startswith(f"replaced {fname}"), r.stdout
    assert "published version 1" in r.stdout, r.stdout
    assert invoke(daemon, fname, "1")["marker"] == "v5"
    versions = daemon.client().list_versions_by_function(FunctionName=fname)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    ok(daemon, "rm", fname)

    # A first deploy with --publish publishes in CreateFunction.
    r = deploy(daemon, fname, write_code(tmp_path / "v6", "v6"), "--publish")
    assert r.stdout.startswith(f"created {fname}") and "published version 1" in r.stdout
    assert invoke(daemon, fname, "1")["marker"] == "v6"
    ok(daemon, "rm", fname)


def test_deploy_update_reports_api_errors(daemon, fname, tmp_path):
    deploy(daemon, fname, write_code(tmp_path / "v1", "v1"))
    r = fails(daemon, "deploy", fname, "--runtime", RUNTIME, "--handler", "app.handler",
              "--code", str(write_code(tmp_path / "v2", "v2")), "--memory", "64")
    assert "ValidationException" in r.stderr and "UpdateFunctionConfiguration" in r.stderr, r.stderr
    ok(daemon, "rm", fname)


def test_publish_and_aliases(daemon, fname, tmp_path):
    deploy(daemon, fname, write_code(tmp_path / "v1", "v1"))
    r = ok(daemon, "publish", fname, "--description", "first")
    v1 = json.loads(r.stdout)
    assert v1["Version"] == "1" and v1["Description"] == "first"
    assert v1["FunctionArn"].endswith(f":{fname}:1")
    assert r.stdout.startswith("{\n    \"")  # pretty, like aws --output json

    deploy(daemon, fname, write_code(tmp_path / "v2", "v2"))
    r = fails(daemon, "publish", "--function-name", fname, "--revision-id", "not-the-revision")
    assert "PreconditionFailedException" in r.stderr, r.stderr
    v2 = json.loads(ok(daemon, "publish", "--function-name", fname).stdout)
    assert v2["Version"] == "2"

    # create: shorthand weights; all traffic to the additional version 2.
    r = ok(daemon, "alias", "create", fname, "--name", "live", "--function-version", "1",
           "--description", "prod", "--routing-config", "AdditionalVersionWeights={2=1.0}")
    alias = json.loads(r.stdout)
    assert alias["Name"] == "live" and alias["FunctionVersion"] == "1"
    assert alias["Description"] == "prod"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 1.0}
    assert invoke(daemon, fname, "live")["marker"] == "v2"

    got = json.loads(ok(daemon, "alias", "get", fname, "--name", "live").stdout)
    assert got == alias
    r = ok(daemon, "alias", "list", fname)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "ADDITIONAL", "WEIGHTS", "DESCRIPTION"]
    assert lines[1].split() == ["live", "1", "2=1.0", "prod"], r.stdout

    # update: JSON weights form, then clear them; the alias keeps version 1.
    r = ok(daemon, "alias", "update", fname, "--name", "live", "--routing-config",
           '{"AdditionalVersionWeights":{"2":0.0}}')
    assert json.loads(r.stdout)["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.0}
    assert invoke(daemon, fname, "live")["marker"] == "v1"
    r = ok(daemon, "alias", "update", fname, "--name", "live", "--function-version", "2",
           "--description", "", "--routing-config", "AdditionalVersionWeights={}")
    updated = json.loads(r.stdout)
    assert updated["FunctionVersion"] == "2" and updated["Description"] == ""
    assert "RoutingConfig" not in updated
    assert invoke(daemon, fname, "live")["marker"] == "v2"
    aws = daemon.client().get_alias(FunctionName=fname, Name="live")
    assert aws["FunctionVersion"] == "2" and aws["RevisionId"] == updated["RevisionId"]

    ok(daemon, "alias", "create", "--function-name", fname, "--name", "old",
       "--function-version", "1")
    only_v1 = ok(daemon, "alias", "list", fname, "--function-version", "1").stdout.splitlines()
    assert [line.split()[0] for line in only_v1[1:]] == ["old"]
    both = ok(daemon, "alias", "list", fname).stdout.splitlines()
    assert sorted(line.split()[0] for line in both[1:]) == ["live", "old"]

    # API errors print as the other commands print them, with exit 2.
    r = fails(daemon, "alias", "create", fname, "--name", "bad", "--function-version", "1",
              "--routing-config", "AdditionalVersionWeights={9=0.5}")
    assert r.stderr.startswith("error: ResourceNotFoundException"), r.stderr
    r = fails(daemon, "alias", "create", fname, "--name", "live", "--function-version", "1")
    assert r.stderr.startswith("error: ResourceConflictException"), r.stderr
    r = fails(daemon, "alias", "create", fname, "--name", "x", "--routing-config", "2=0.5")
    assert "--function-version" in r.stderr  # usage error, nothing sent

    r = ok(daemon, "alias", "delete", fname, "--name", "old")
    assert r.stdout.strip() == f"deleted alias old of {fname}"
    r = fails(daemon, "alias", "get", fname, "--name", "old")
    assert r.stderr.startswith("error: ResourceNotFoundException"), r.stderr
    ok(daemon, "rm", fname)


def test_reserved_concurrency_throttles(daemon, fname, tmp_path):
    deploy(daemon, fname, write_code(tmp_path / "v1", "v1"))
    r = ok(daemon, "concurrency", "put", fname, "--reserved-concurrent-executions", "0")
    assert json.loads(r.stdout) == {"ReservedConcurrentExecutions": 0}
    assert json.loads(ok(daemon, "concurrency", "get", fname).stdout) == {
        "ReservedConcurrentExecutions": 0}
    assert daemon.client().get_function_concurrency(
        FunctionName=fname)["ReservedConcurrentExecutions"] == 0

    r = fails(daemon, "invoke", fname)
    assert r.stderr.startswith("error: TooManyRequestsException"), r.stderr
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in r.stderr, r.stderr

    r = ok(daemon, "concurrency", "delete", "--function-name", fname)
    assert fname in r.stdout
    assert json.loads(ok(daemon, "concurrency", "get", fname).stdout) == {}
    assert invoke(daemon, fname)["marker"] == "v1"

    r = fails(daemon, "concurrency", "put", fname, "--reserved-concurrent-executions", "-1")
    assert r.stderr.startswith("error: ValidationException"), r.stderr
    r = fails(daemon, "concurrency", "get", fname + "-missing")
    assert r.stderr.startswith("error: ResourceNotFoundException"), r.stderr
    ok(daemon, "rm", fname)


def test_provisioned_concurrency(daemon, fname, tmp_path):
    deploy(daemon, fname, write_code(tmp_path / "v1", "v1"), "--publish")
    r = ok(daemon, "concurrency", "put-provisioned", fname, "--qualifier", "1",
           "--provisioned-concurrent-executions", "1")
    put = json.loads(r.stdout)
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    assert put["Status"] in ("IN_PROGRESS", "READY")

    deadline = time.time() + 60
    while True:
        got = json.loads(ok(daemon, "concurrency", "get-provisioned", fname, "--qualifier",
                            "1").stdout)
        assert got["RequestedProvisionedConcurrentExecutions"] == 1
        if got["Status"] == "READY" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert got["Status"] == "READY", got
    assert got["AvailableProvisionedConcurrentExecutions"] == 1

    listed = json.loads(ok(daemon, "concurrency", "list-provisioned", fname).stdout)
    assert [c["FunctionArn"].rsplit(":", 1)[1]
            for c in listed["ProvisionedConcurrencyConfigs"]] == ["1"]
    assert invoke(daemon, fname, "1")["marker"] == "v1"

    r = fails(daemon, "concurrency", "put-provisioned", fname, "--qualifier", "$LATEST",
              "--provisioned-concurrent-executions", "1")
    assert r.stderr.startswith("error: InvalidParameterValueException"), r.stderr

    r = ok(daemon, "concurrency", "delete-provisioned", fname, "--qualifier", "1")
    assert fname in r.stdout
    r = fails(daemon, "concurrency", "get-provisioned", fname, "--qualifier", "1")
    assert r.stderr.startswith("error: ProvisionedConcurrencyConfigNotFoundException"), r.stderr
    r = fails(daemon, "concurrency", "get-provisioned", fname)
    assert "--qualifier" in r.stderr  # usage error
    ok(daemon, "rm", fname)
