"""Asynchronous invocation against a real daemon: Event invokes, retries, destinations, DLQ,
the event-invoke-config API, local queues, throttling and durability across a kill -9.

The daemon runs with --async-retry-delay-ms 300 so Lambda's 1 and 2 minute retry delays take
0.3 s and 0.6 s (throttle backoff scales with it: 5 ms .. 1.5 s).
"""
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh

RETRY_DELAY_MS = 300
REGION = "us-east-1"


class AsyncDaemon(kh.Daemon):
    """A kindling daemon with short async retry delays."""

    def start(self):
        self.port = kh.free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(kh.BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
             str(self.data_dir), "--keep-alive", str(self.keep_alive),
             "--async-retry-delay-ms", str(RETRY_DELAY_MS)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "KINDLING_HOME": str(kh.REPO)})
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: "
                                   + self.log_path.read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.endpoint + "/kindling/v1/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("daemon did not become healthy: " + self.log_path.read_text()[-2000:])


@pytest.fixture(scope="module")
def ad(tmp_path_factory):
    if not kh.BIN.exists():
        pytest.fail(f"kindling binary not built: {kh.BIN}")
    d = AsyncDaemon(tmp_path_factory.mktemp("kindling-async") / "data").start()
    yield d
    rc = d.stop()
    assert rc == 0, f"daemon exited with {rc}: " + d.log_path.read_text()[-3000:]


def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:000000000000:{name}"


def function_arn(name, qualifier=None):
    arn = f"arn:aws:lambda:{REGION}:000000000000:function:{name}"
    return arn + (f":{qualifier}" if qualifier else "")


def receive(d, queue, max_messages=10, delete=True):
    status, _, body = d.http("POST", f"/kindling/v1/queues/{queue}/receive",
                             json.dumps({"MaxNumberOfMessages": max_messages,
                                         "VisibilityTimeout": 30, "Delete": delete}).encode(),
                             {"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)["Messages"]


def wait_messages(d, queue, count, timeout=30.0):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and len(got) < count:
        batch = receive(d, queue)
        got.extend(batch)
        if not batch:
            time.sleep(0.05)
    return got


def invoke_event(d, name, payload, qualifier=None):
    kwargs = dict(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    if qualifier:
        kwargs["Qualifier"] = qualifier
    return d.client().invoke(**kwargs)


def test_event_invoke_returns_202_and_runs_the_function(ad, fname):
    q = f"ok-{uuid.uuid4().hex[:8]}"
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    lam = ad.client()
    cfg = lam.put_function_event_invoke_config(
        FunctionName=fname, DestinationConfig={"OnSuccess": {"Destination": queue_arn(q)}})
    assert cfg["FunctionArn"] == function_arn(fname, "$LATEST")
    r = invoke_event(ad, fname, {"hello": "async"})
    assert r["StatusCode"] == 202
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert r["Payload"].read() == b""
    msgs = wait_messages(ad, q, 1)
    assert len(msgs) == 1, "no on-success record arrived"
    record = json.loads(msgs[0]["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"] == function_arn(fname, "$LATEST")
    assert record["requestPayload"] == {"hello": "async"}
    assert record["responseContext"]["statusCode"] == 200
    assert record["responseContext"]["executedVersion"] == "$LATEST"
    assert "functionError" not in record["responseContext"]
    assert record["responsePayload"] == {"hello": "async"}


def test_failing_handler_is_retried_then_on_failure_gets_the_record(ad, fname):
    q = f"fail-{uuid.uuid4().hex[:8]}"
    ad.deploy(fname, kh.payload_zip(), handler="error")
    ad.client().put_function_event_invoke_config(
        FunctionName=fname, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(q)}})
    started = time.time()
    invoke_event(ad, fname, {"n": 1})
    msgs = wait_messages(ad, q, 1)
    assert len(msgs) == 1
    # One retry after ~retry delay.
    assert time.time() - started >= RETRY_DELAY_MS / 1000.0
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["requestPayload"] == {"n": 1}
    assert record["responsePayload"] is not None
    # Exactly two attempts: no third one shows up later.
    time.sleep(3 * RETRY_DELAY_MS / 1000.0)
    assert receive(ad, q) == []


def test_dead_letter_queue_gets_the_bare_event(ad, fname):
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    lam = ad.client()
    lam.create_function(FunctionName=fname, Runtime="provided.al2023", Role=kh.ROLE,
                        Handler="error", Code={"ZipFile": kh.payload_zip()},
                        DeadLetterConfig={"TargetArn": queue_arn(dlq)})
    lam.put_function_event_invoke_config(FunctionName=fname, MaximumRetryAttempts=0)
    r = invoke_event(ad, fname, {"order": 7})
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    msgs = wait_messages(ad, dlq, 1)
    assert len(msgs) == 1
    assert json.loads(msgs[0]["Body"]) == {"order": 7}
    attrs = msgs[0]["MessageAttributes"]
    assert attrs["RequestID"]["StringValue"] == request_id
    assert "ErrorMessage" in attrs


def test_function_destination_is_invoked_asynchronously(ad, fname):
    q = f"chain-{uuid.uuid4().hex[:8]}"
    target = fname[:50] + "-dst"
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    ad.deploy(target, kh.payload_zip(), handler="echo")
    lam = ad.client()
    lam.put_function_event_invoke_config(
        FunctionName=fname, DestinationConfig={"OnSuccess": {"Destination": function_arn(target)}})
    lam.put_function_event_invoke_config(
        FunctionName=target, DestinationConfig={"OnSuccess": {"Destination": queue_arn(q)}})
    invoke_event(ad, fname, {"step": 1})
    msgs = wait_messages(ad, q, 1)
    assert len(msgs) == 1
    outer = json.loads(msgs[0]["Body"])
    assert outer["requestContext"]["functionArn"] == function_arn(target, "$LATEST")
    inner = outer["requestPayload"]  # the first function's record, delivered as the event
    assert inner["requestContext"]["functionArn"] == function_arn(fname, "$LATEST")
    assert inner["requestPayload"] == {"step": 1}
    assert outer["responsePayload"] == inner  # echo


def test_event_invoke_config_api_and_errors(ad, fname):
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    lam = ad.client()
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=fname)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "doesn't have an EventInvokeConfig" in e.value.response["Error"]["Message"]

    put = lam.put_function_event_invoke_config(
        FunctionName=fname, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": queue_arn("a")}})
    assert put["MaximumRetryAttempts"] == 1
    assert put["MaximumEventAgeInSeconds"] == 120
    assert put["DestinationConfig"]["OnSuccess"]["Destination"] == queue_arn("a")
    assert put["DestinationConfig"]["OnFailure"] == {}
    assert abs(put["LastModified"].timestamp() - time.time()) < 60  # epoch seconds on the wire

    upd = lam.update_function_event_invoke_config(
        FunctionName=fname, DestinationConfig={"OnFailure": {"Destination": function_arn(fname)}})
    assert upd["MaximumRetryAttempts"] == 1  # merged, not replaced
    assert upd["DestinationConfig"]["OnSuccess"]["Destination"] == queue_arn("a")
    assert upd["DestinationConfig"]["OnFailure"]["Destination"] == function_arn(fname)

    # Put replaces: unset fields disappear.
    put2 = lam.put_function_event_invoke_config(FunctionName=fname, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in put2
    assert put2["DestinationConfig"]["OnSuccess"] == {}
    got = lam.get_function_event_invoke_config(FunctionName=fname)
    assert got["MaximumEventAgeInSeconds"] == 60

    listed = lam.list_function_event_invoke_configs(FunctionName=fname)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn(fname, "$LATEST")]

    raw = ad.client(validate=False)
    for kwargs, code in [
        (dict(MaximumRetryAttempts=3), "ValidationException"),
        (dict(MaximumEventAgeInSeconds=59), "ValidationException"),
        (dict(MaximumEventAgeInSeconds=21601), "ValidationException"),
        (dict(DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sns:us-east-1:000000000000:t"}}),
         "InvalidParameterValueException"),
        (dict(DestinationConfig={"OnFailure": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/default"}}),
         "InvalidParameterValueException"),
        (dict(DestinationConfig={"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:000000000000:nope"}}),
         "InvalidParameterValueException"),
    ]:
        with pytest.raises(ClientError) as e:
            raw.put_function_event_invoke_config(FunctionName=fname, **kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    with pytest.raises(ClientError) as e:
        raw.put_function_event_invoke_config(
            FunctionName=fname,
            DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sns:us-east-1:000000000000:t"}})
    assert "does not support SNS" in e.value.response["Error"]["Message"]

    lam.delete_function_event_invoke_config(FunctionName=fname)
    with pytest.raises(ClientError) as e:
        lam.delete_function_event_invoke_config(FunctionName=fname)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=fname + "-missing",
                                             MaximumRetryAttempts=0)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # The aws CLI reads the same shapes.
    r = ad.aws("put-function-event-invoke-config", "--function-name", fname,
               "--maximum-retry-attempts", "0")
    assert r.returncode == 0, r.stderr
    r = ad.aws("get-function-event-invoke-config", "--function-name", fname)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["MaximumRetryAttempts"] == 0


def test_event_payload_limit(ad, fname):
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    big = b'"' + b"x" * (1048576 - 1) + b'"'  # 1048577 bytes
    status, headers, body = ad.http("POST", f"/2015-03-31/functions/{fname}/invocations", big,
                                    {"X-Amz-Invocation-Type": "Event"})
    assert status == 413, body
    assert headers.get("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    assert b"1048577 byte payload is too large for the Event invocation type" in body
    ok = b'"' + b"x" * (1048576 - 2) + b'"'
    status, _, body = ad.http("POST", f"/2015-03-31/functions/{fname}/invocations", ok,
                              {"X-Amz-Invocation-Type": "Event"})
    assert status == 202, body


def test_cli_async_invoke_and_queue_receive(ad, fname):
    q = f"cli-{uuid.uuid4().hex[:8]}"
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    ad.client().put_function_event_invoke_config(
        FunctionName=fname, DestinationConfig={"OnSuccess": {"Destination": queue_arn(q)}})
    env = {**os.environ, "KINDLING_ENDPOINT": ad.endpoint}
    r = subprocess.run([str(kh.BIN), "invoke", fname, "--async", "--payload", '{"via":"cli"}'],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("queued ")
    messages = []
    deadline = time.time() + 30
    while time.time() < deadline and not messages:
        r = subprocess.run([str(kh.BIN), "queue", "receive", q, "--max-number-of-messages", "10",
                            "--delete"], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        messages = json.loads(r.stdout)
        if not messages:
            time.sleep(0.1)
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["requestPayload"] == {"via": "cli"}
    r = subprocess.run([str(kh.BIN), "invoke", fname, "--invocation-type", "Event"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_messages(ad, q, 1)
    r = subprocess.run([str(kh.BIN), "queue", "list"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "QUEUE" in r.stdout


def test_throttled_events_wait_and_all_succeed(ad, fname):
    q = f"thr-{uuid.uuid4().hex[:8]}"
    ad.deploy(fname, kh.payload_zip(), handler="sleep:300", timeout=10)
    lam = ad.client()
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName=fname, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": queue_arn(q)},
                           "OnFailure": {"Destination": queue_arn(q + "-f")}})
    for i in range(6):
        invoke_event(ad, fname, {"i": i})
    msgs = wait_messages(ad, q, 6, timeout=60)
    got = sorted(json.loads(m["Body"])["requestPayload"]["i"] for m in msgs)
    assert got == list(range(6))
    assert receive(ad, q + "-f") == []


def test_reserved_concurrency_zero_goes_to_failure_destination(ad, fname):
    q = f"zero-{uuid.uuid4().hex[:8]}"
    ad.deploy(fname, kh.payload_zip(), handler="echo")
    lam = ad.client()
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName=fname, DestinationConfig={"OnFailure": {"Destination": queue_arn(q)}})
    invoke_event(ad, fname, {"z": 0})
    msgs = wait_messages(ad, q, 1)
    assert len(msgs) == 1
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"z": 0}


def test_events_survive_kill_9(tmp_path):
    """1,000 events; the daemon is killed with SIGKILL mid-delivery and restarted on the same
    data dir: every event id reaches the on-success queue at least once."""
    d = AsyncDaemon(tmp_path / "data").start()
    name = "durable"
    q = "durable-ok"
    total = 1000
    try:
        d.deploy(name, kh.payload_zip(), handler="echo")
        d.client().put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn(q)}})

        def send(i):
            status, _, body = d.http("POST", f"/2015-03-31/functions/{name}/invocations",
                                     json.dumps({"id": i}).encode(),
                                     {"X-Amz-Invocation-Type": "Event"})
            assert status == 202, body

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, range(total)))
        seen = {}
        # Let part of the backlog through, then kill without any chance to clean up.
        deadline = time.time() + 60
        while time.time() < deadline and len(seen) < 100:
            for m in receive(d, q):
                i = json.loads(m["Body"])["requestPayload"]["id"]
                seen[i] = seen.get(i, 0) + 1
        assert len(seen) < total, "everything was delivered before the kill; test is moot"
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=30)
        d.proc = None
        d.start()
        deadline = time.time() + 180
        while time.time() < deadline and len(seen) < total:
            batch = receive(d, q)
            for m in batch:
                i = json.loads(m["Body"])["requestPayload"]["id"]
                seen[i] = seen.get(i, 0) + 1
            if not batch:
                time.sleep(0.05)
        missing = sorted(set(range(total)) - set(seen))
        assert not missing, f"{len(missing)} events lost, e.g. {missing[:10]}"
    finally:
        if d.proc:
            d.stop()
