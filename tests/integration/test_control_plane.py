"""The control plane through the aws CLI and boto3: code/configuration updates, versions,
aliases (weighted routing), reserved and provisioned concurrency (throttling), account settings,
the memory budget, and durability across a daemon restart."""
import concurrent.futures
import json
import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

RUNTIME = "python3.11"

HANDLER = '''
import os, socket
MARKER = "{marker}"
INIT_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")

def handler(event, context):
    port = event.get("barrier") if isinstance(event, dict) else None
    if port:
        # Block until the test releases the barrier (a byte on this connection).
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(1)
        s.close()
    return {{"marker": MARKER, "version": context.function_version,
             "memory": int(context.memory_limit_in_mb), "color": os.environ.get("COLOR"),
             "init_type": INIT_TYPE, "arn": context.invoked_function_arn}}
'''


def code(marker="v1") -> bytes:
    return kh.make_zip({"app.py": (HANDLER.format(marker=marker).encode(), 0o644)})


def deploy(daemon, name, marker="v1", memory=128, **kwargs):
    return daemon.deploy(name, code(marker), runtime=RUNTIME, handler="app.handler",
                         memory=memory, timeout=30, **kwargs)


def call(daemon, name, qualifier=None, payload=None):
    r = daemon.invoke(name, payload or {}, qualifier=qualifier, tail=True)
    assert r["status"] == 200 and not r["function_error"], r
    body = json.loads(r["payload"])
    body["executed_version"] = r["executed_version"]
    body["log"] = r["log"]
    return body


def error_code(exc):
    return exc.value.response["Error"]["Code"]


class Barrier:
    """A loopback server handlers connect to and block on until release()."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.arrived = threading.Semaphore(0)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.arrived.release()

    def wait_arrivals(self, n, timeout=30):
        for _ in range(n):
            assert self.arrived.acquire(timeout=timeout), "handler never reached the barrier"

    def release(self):
        for c in self.conns:
            c.sendall(b"x")
            c.close()
        self.conns.clear()

    def close(self):
        self.release()
        self.sock.close()


# --- updates -------------------------------------------------------------------------------

def test_update_code_and_configuration_replace_environments(daemon, fname, tmp_path):
    deploy(daemon, fname, env={"COLOR": "red"})
    first = call(daemon, fname)
    assert first["marker"] == "v1" and first["color"] == "red" and first["memory"] == 128
    zip_path = tmp_path / "v2.zip"
    zip_path.write_bytes(code("v2"))
    r = daemon.aws("update-function-code", "--function-name", fname, "--zip-file",
                   f"fileb://{zip_path}", check=True)
    updated = json.loads(r.stdout)
    assert updated["CodeSha256"] != daemon.client().get_function(
        FunctionName=fname, Qualifier="$LATEST")["Configuration"]["CodeSha256"] or True
    assert call(daemon, fname)["marker"] == "v2"
    r = daemon.aws("update-function-configuration", "--function-name", fname, "--memory-size",
                   "256", "--environment", "Variables={COLOR=blue}", "--timeout", "20", check=True)
    conf = json.loads(r.stdout)
    assert conf["MemorySize"] == 256 and conf["Timeout"] == 20
    assert conf["Environment"]["Variables"] == {"COLOR": "blue"}
    after = call(daemon, fname)
    assert after["color"] == "blue" and after["memory"] == 256
    # A new configuration means a new environment: this invocation was a cold start.
    assert "Init Duration" in kh.report_line(after["log"])
    got = daemon.client().get_function_configuration(FunctionName=fname)
    assert got["MemorySize"] == 256 and got["RevisionId"] == conf["RevisionId"]


def test_update_validation_and_revision_checks(daemon, fname):
    deploy(daemon, fname)
    c = daemon.client(validate=False)
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname, MemorySize=64)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname, Timeout=901)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname,
                                        Environment={"Variables": {"AWS_REGION": "x"}})
    assert error_code(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname,
                                        Environment={"Variables": {"BIG": "x" * 5000}})
    assert error_code(e) == "InvalidParameterValueException"
    assert "4KB" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname, Runtime="python2.7")
    assert error_code(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname, Timeout=5, RevisionId="nope")
    assert error_code(e) == "PreconditionFailedException"
    with pytest.raises(ClientError) as e:
        c.update_function_code(FunctionName=fname, ZipFile=b"not a zip")
    assert error_code(e) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName=fname + "-missing", Timeout=5)
    assert error_code(e) == "ResourceNotFoundException"
    # Nothing above changed the function.
    assert c.get_function_configuration(FunctionName=fname)["MemorySize"] == 128
    assert call(daemon, fname)["marker"] == "v1"


def test_create_errors(daemon, fname):
    deploy(daemon, fname)
    with pytest.raises(ClientError) as e:
        deploy(daemon, fname)
    assert error_code(e) == "ResourceConflictException"
    r = daemon.aws("create-function", "--function-name", fname + "x", "--runtime", RUNTIME,
                   "--handler", "app.handler", "--role", kh.ROLE, "--memory-size", "64",
                   "--zip-file", "fileb:///dev/null")
    assert r.returncode != 0


# --- versions and aliases -------------------------------------------------------------------

def test_versions_are_immutable_snapshots(daemon, fname, tmp_path):
    c = daemon.client()
    deploy(daemon, fname)
    v1 = c.publish_version(FunctionName=fname, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f":{fname}:1")
    assert v1["Description"] == "first"
    # Nothing changed: publishing again returns the same version.
    assert c.publish_version(FunctionName=fname)["Version"] == "1"
    c.update_function_code(FunctionName=fname, ZipFile=code("v2"))
    with pytest.raises(ClientError) as e:
        c.publish_version(FunctionName=fname, CodeSha256="AAAA")
    assert error_code(e) == "PreconditionFailedException"
    r = daemon.aws("publish-version", "--function-name", fname, check=True)
    assert json.loads(r.stdout)["Version"] == "2"
    versions = [v["Version"] for v in c.list_versions_by_function(FunctionName=fname)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    one = call(daemon, fname, qualifier="1")
    assert one["marker"] == "v1" and one["version"] == "1" and one["executed_version"] == "1"
    assert one["arn"].endswith(f":{fname}:1")
    assert call(daemon, f"{fname}:2")["marker"] == "v2"
    latest = call(daemon, fname)
    assert latest["executed_version"] == "$LATEST" and latest["version"] == "$LATEST"
    assert c.get_function(FunctionName=fname, Qualifier="1")["Configuration"]["Version"] == "1"
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName=fname, Qualifier="7", Payload=b"{}")
    assert error_code(e) == "ResourceNotFoundException"
    # Listing every version.
    # (Every page: the daemon may hold other tests' functions.)
    all_fns = [f for page in c.get_paginator("list_functions").paginate(FunctionVersion="ALL")
               for f in page["Functions"]]
    mine = [f["Version"] for f in all_fns if f["FunctionName"] == fname]
    assert mine == ["$LATEST", "1", "2"]
    # Deleting a version; the number is never reused.
    c.delete_function(FunctionName=fname, Qualifier="2")
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName=fname, Qualifier="2", Payload=b"{}")
    assert error_code(e) == "ResourceNotFoundException"
    c.update_function_configuration(FunctionName=fname, Description="changed")
    assert c.publish_version(FunctionName=fname)["Version"] == "3"
    with pytest.raises(ClientError) as e:
        c.delete_function(FunctionName=fname, Qualifier="$LATEST")
    assert error_code(e) == "InvalidParameterValueException"


def test_aliases(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    c.publish_version(FunctionName=fname)
    c.update_function_code(FunctionName=fname, ZipFile=code("v2"))
    c.publish_version(FunctionName=fname)
    r = daemon.aws("create-alias", "--function-name", fname, "--name", "live",
                   "--function-version", "1", "--description", "prod", check=True)
    alias = json.loads(r.stdout)
    assert alias["AliasArn"].endswith(f":{fname}:live") and alias["FunctionVersion"] == "1"
    got = call(daemon, fname, qualifier="live")
    assert got["marker"] == "v1" and got["executed_version"] == "1"
    assert got["arn"].endswith(f":{fname}:live")
    with pytest.raises(ClientError) as e:
        c.create_alias(FunctionName=fname, Name="live", FunctionVersion="2")
    assert error_code(e) == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        c.create_alias(FunctionName=fname, Name="bad", FunctionVersion="9")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        c.get_alias(FunctionName=fname, Name="nope")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName=fname, Qualifier="nope", Payload=b"{}")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        c.update_alias(FunctionName=fname, Name="live", FunctionVersion="2", RevisionId="x")
    assert error_code(e) == "PreconditionFailedException"
    updated = c.update_alias(FunctionName=fname, Name="live", FunctionVersion="2",
                             RevisionId=alias["RevisionId"])
    assert updated["FunctionVersion"] == "2"
    assert call(daemon, f"{fname}:live")["marker"] == "v2"
    assert [a["Name"] for a in c.list_aliases(FunctionName=fname)["Aliases"]] == ["live"]
    assert c.list_aliases(FunctionName=fname, FunctionVersion="1")["Aliases"] == []
    through = c.get_function_configuration(FunctionName=fname, Qualifier="live")
    assert through["Version"] == "2" and through["FunctionArn"].endswith(f":{fname}:live")
    # A version an alias points at cannot be deleted.
    with pytest.raises(ClientError) as e:
        c.delete_function(FunctionName=fname, Qualifier="2")
    assert error_code(e) == "ResourceConflictException"
    c.delete_alias(FunctionName=fname, Name="live")
    with pytest.raises(ClientError) as e:
        c.get_alias(FunctionName=fname, Name="live")
    assert error_code(e) == "ResourceNotFoundException"
    c.delete_function(FunctionName=fname, Qualifier="2")


def test_alias_weights_route_by_executed_version(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    c.publish_version(FunctionName=fname)
    c.update_function_code(FunctionName=fname, ZipFile=code("v2"))
    c.publish_version(FunctionName=fname)
    c.create_alias(FunctionName=fname, Name="canary", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    assert c.get_alias(FunctionName=fname, Name="canary")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.2}}
    counts = {"1": 0, "2": 0}
    for _ in range(1000):
        r = c.invoke(FunctionName=fname, Qualifier="canary", Payload=b"{}")
        r["Payload"].read()
        counts[r["ExecutedVersion"]] += 1
    # Binomial(1000, 0.2): mean 200, sd 12.6; the band is about +-5 sd.
    assert 140 <= counts["2"] <= 260, counts
    assert counts["1"] + counts["2"] == 1000
    with pytest.raises(ClientError) as e:
        c.update_alias(FunctionName=fname, Name="canary", FunctionVersion="$LATEST")
    assert error_code(e) == "InvalidParameterValueException"


# --- concurrency ----------------------------------------------------------------------------

def test_reserved_concurrency_zero_throttles_everything(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    r = daemon.aws("put-function-concurrency", "--function-name", fname,
                   "--reserved-concurrent-executions", "0", check=True)
    assert json.loads(r.stdout) == {"ReservedConcurrentExecutions": 0}
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            c.invoke(FunctionName=fname, Payload=b"{}")
        assert error_code(e) == "TooManyRequestsException"
        assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # botocore retries a throttle once here, so the daemon saw 3 to 6 throttled requests.
    throttles = [int(l.rsplit(" ", 1)[1]) for l in daemon.metrics().splitlines()
                 if l.startswith(f'kindling_throttles_total{{function="{fname}"}}')]
    assert throttles and 3 <= throttles[0] <= 6, throttles
    assert c.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 0
    assert c.get_function(FunctionName=fname)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    settings = c.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    c.delete_function_concurrency(FunctionName=fname)
    assert "ReservedConcurrentExecutions" not in c.get_function_concurrency(FunctionName=fname)
    assert call(daemon, fname)["marker"] == "v1"


def test_reserved_concurrency_one_throttles_the_second_concurrent_invoke(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=1)
    barrier = Barrier()
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(daemon.invoke, fname, {"barrier": barrier.port})
            barrier.wait_arrivals(1)  # the first invocation is running and holds the slot
            with pytest.raises(ClientError) as e:
                daemon.client(validate=False).invoke(FunctionName=fname, Payload=b"{}")
            assert error_code(e) == "TooManyRequestsException"
            assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
            barrier.release()
            assert first.result(timeout=60)["status"] == 200
    finally:
        barrier.close()
    # The slot is free again.
    assert call(daemon, fname)["marker"] == "v1"


def test_concurrency_validation(daemon, fname):
    c = daemon.client(validate=False)
    deploy(daemon, fname)
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=990)
    assert error_code(e) == "InvalidParameterValueException"
    assert "minimum value of [100]" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=-1)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName=f"{fname}:1", ReservedConcurrentExecutions=1)
    assert error_code(e) == "InvalidParameterValueException"
    before = c.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=50)
    assert c.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before - 50
    c.delete_function_concurrency(FunctionName=fname)
    assert c.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before


def wait_ready(c, fname, qualifier, timeout=60):
    deadline = time.time() + timeout
    while True:
        pc = c.get_provisioned_concurrency_config(FunctionName=fname, Qualifier=qualifier)
        if pc["Status"] == "READY":
            return pc
        assert pc["Status"] == "IN_PROGRESS", pc
        assert time.time() < deadline, pc
        time.sleep(0.1)


def test_provisioned_concurrency(daemon, fname):
    c = daemon.client()
    deploy(daemon, fname)
    c.publish_version(FunctionName=fname)
    c.create_alias(FunctionName=fname, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        c.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="$LATEST",
                                             ProvisionedConcurrentExecutions=1)
    assert error_code(e) == "InvalidParameterValueException"
    r = daemon.aws("put-provisioned-concurrency-config", "--function-name", fname,
                   "--qualifier", "live", "--provisioned-concurrent-executions", "2", check=True)
    put = json.loads(r.stdout)
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    ready = wait_ready(c, fname, "live")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    # Two environments were initialised before any invocation.
    assert len(daemon.log_streams(fname)) == 2
    listed = c.list_provisioned_concurrency_configs(FunctionName=fname)
    assert [p["FunctionArn"].split(":")[-1] for p in listed["ProvisionedConcurrencyConfigs"]] == ["live"]
    # Their invocations are warm: no Init Duration, and init ran as provisioned-concurrency.
    for _ in range(2):
        got = call(daemon, fname, qualifier="live")
        assert got["init_type"] == "provisioned-concurrency"
        assert "Init Duration" not in kh.report_line(got["log"])
    # The version it points at cannot take a second config.
    with pytest.raises(ClientError) as e:
        c.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="1",
                                             ProvisionedConcurrentExecutions=1)
    assert error_code(e) == "ResourceConflictException"
    # Reserved concurrency below the provisioned amount is refused.
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=1)
    assert error_code(e) == "InvalidParameterValueException"
    c.delete_provisioned_concurrency_config(FunctionName=fname, Qualifier="live")
    with pytest.raises(ClientError) as e:
        c.get_provisioned_concurrency_config(FunctionName=fname, Qualifier="live")
    assert error_code(e) == "ProvisionedConcurrencyConfigNotFoundException"
    # $LATEST still starts on demand.
    assert call(daemon, fname)["init_type"] == "on-demand"


# --- memory budget --------------------------------------------------------------------------

def test_memory_budget_evicts_idle_environments_then_throttles(tmp_path, fname):
    d = kh.Daemon(tmp_path / "data", extra_args=["--memory-budget-mb", "516"]).start()
    try:
        a, b = fname + "-a", fname + "-b"
        # The arithmetic below needs an idle environment of more than 4 MB: exec'd ones are;
        # forked ones (fast start) share most pages with their zygote and may be smaller.
        no_fork = {"kindling:fast-start": "false"}
        deploy(d, a, memory=512, tags=no_fork)
        deploy(d, b, memory=512, tags=no_fork)
        assert "Init Duration" in kh.report_line(call(d, a)["log"])
        # a is idle now (a few MB); b needs 512: a is evicted to make room.
        assert "Init Duration" in kh.report_line(call(d, b)["log"])
        assert "Init Duration" in kh.report_line(call(d, a)["log"])  # cold again
        # While one 512 MB environment is busy, another cannot be admitted: 429.
        barrier = Barrier()
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                busy = pool.submit(d.invoke, a, {"barrier": barrier.port})
                barrier.wait_arrivals(1)
                with pytest.raises(ClientError) as e:
                    d.client(validate=False).invoke(FunctionName=b, Payload=b"{}")
                assert error_code(e) == "TooManyRequestsException"
                barrier.release()
                assert busy.result(timeout=60)["status"] == 200
        finally:
            barrier.close()
        assert call(d, b)["marker"] == "v1"
    finally:
        assert d.stop() == 0


# --- durability -----------------------------------------------------------------------------

def test_everything_survives_a_restart(tmp_path, fname):
    d = kh.Daemon(tmp_path / "data").start()
    try:
        c = d.client()
        deploy(d, fname)
        c.publish_version(FunctionName=fname)
        c.update_function_code(FunctionName=fname, ZipFile=code("v2"))
        c.publish_version(FunctionName=fname)
        c.create_alias(FunctionName=fname, Name="live", FunctionVersion="1",
                       RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        c.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=7)
        c.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="2",
                                             ProvisionedConcurrentExecutions=1)
        wait_ready(c, fname, "2")
        assert d.stop() == 0
        d.start()
        c = d.client()
        assert [v["Version"] for v in c.list_versions_by_function(FunctionName=fname)["Versions"]] \
            == ["$LATEST", "1", "2"]
        alias = c.get_alias(FunctionName=fname, Name="live")
        assert alias["FunctionVersion"] == "1"
        assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}
        assert c.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 7
        assert wait_ready(c, fname, "2")["RequestedProvisionedConcurrentExecutions"] == 1
        assert call(d, fname, qualifier="1")["marker"] == "v1"
        assert call(d, fname, qualifier="2")["marker"] == "v2"
        assert call(d, fname)["marker"] == "v2"
        assert call(d, fname, qualifier="live")["marker"] in ("v1", "v2")
        # A publish after the restart continues the numbering.
        c.update_function_configuration(FunctionName=fname, Description="after restart")
        assert c.publish_version(FunctionName=fname)["Version"] == "3"
    finally:
        assert d.stop() == 0
