"""Invoke API + engine life cycle against the real daemon, through boto3 and the aws CLI."""
import base64
import concurrent.futures as cf
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

import kindling_harness as kh


@pytest.fixture(scope="module")
def payload_zip():
    if not kh.PAYLOAD.exists():
        pytest.fail(f"test payload not built: {kh.PAYLOAD}")
    return kh.payload_zip()


def test_cold_then_warm_report_lines(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="echo", memory=256)
    cold = daemon.invoke(fname, {"n": 1}, tail=True)
    assert cold["status"] == 200 and cold["function_error"] is None
    assert json.loads(cold["payload"]) == {"n": 1}
    assert cold["executed_version"] == "$LATEST"
    report = kh.report_line(cold["log"])
    assert re.fullmatch(
        r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t", report)
    assert cold["log"].startswith("START RequestId: ")
    assert "Version: $LATEST" in cold["log"]
    warm = daemon.invoke(fname, {"n": 2}, tail=True)
    assert json.loads(warm["payload"]) == {"n": 2}
    warm_report = kh.report_line(warm["log"])
    assert "Init Duration" not in warm_report
    # The request id of the REPORT line is the invocation's x-amzn-RequestId.
    assert warm["headers"]["x-amzn-requestid"] in warm_report


def test_tail_log_has_handler_output(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="log:hello-from-the-handler")
    r = daemon.invoke(fname, {}, tail=True)
    lines = r["log"].splitlines()
    assert lines[0].startswith("START RequestId:")
    assert "hello-from-the-handler" in lines
    assert lines[-2].startswith("END RequestId:")
    assert lines[-1].startswith("REPORT RequestId:")


def test_handler_error_passes_body_verbatim(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="error")
    r = daemon.invoke(fname, {})
    assert r["status"] == 200
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {"errorMessage": "test error", "errorType": "TestError",
                                        "stackTrace": ["frame1"]}


def test_timeout(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="sleep:5000", timeout=1)
    r = daemon.invoke(fname, {}, tail=True)
    assert r["function_error"] == "Unhandled"
    body = json.loads(r["payload"])
    request_id = r["headers"]["x-amzn-requestid"]
    assert body == {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    assert f"{request_id} Task timed out after 1.00 seconds" in r["log"]
    # The environment was killed; the next invoke is a cold start that works.
    daemon.client().update_function_configuration  # noqa: B018 (API exists in the client)
    again = daemon.invoke(fname, {}, tail=True)
    assert "Init Duration" in kh.report_line(again["log"])


@pytest.mark.parametrize("handler,reason", [
    ("crash", "Runtime exited with error: signal: aborted"),
    ("segv", "Runtime exited with error: signal: segmentation fault"),
    ("exit:3", "Runtime exited with error: exit status 3"),
    ("exit:0", "Runtime exited without providing a reason"),
])
def test_runtime_exit_mid_invocation(daemon, fname, payload_zip, handler, reason):
    daemon.deploy(fname, payload_zip, handler=handler)
    r = daemon.invoke(fname, {})
    rid = r["headers"]["x-amzn-requestid"]
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {"errorType": "Runtime.ExitError",
                                        "errorMessage": f"RequestId: {rid} Error: {reason}"}


def test_init_error_body_verbatim_and_no_warm_env(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="init_error")
    for _ in range(2):
        r = daemon.invoke(fname, {}, tail=True)
        assert r["function_error"] == "Unhandled"
        assert json.loads(r["payload"]) == {"errorMessage": "init failed",
                                            "errorType": "Runtime.TestInitError"}
        assert "INIT_REPORT Init Duration:" in r["log"]
    streams = daemon.log_streams(fname)
    assert len(streams) == 2  # a fresh environment for each attempt


def test_init_exit_without_reason(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="init_exit:7")
    r = daemon.invoke(fname, {})
    rid = r["headers"]["x-amzn-requestid"]
    assert json.loads(r["payload"]) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 7"}


def test_missing_bootstrap_is_invalid_entrypoint(daemon, fname):
    daemon.deploy(fname, kh.make_zip({"README": "no bootstrap here"}))
    r = daemon.invoke(fname, {})
    body = json.loads(r["payload"])
    assert r["function_error"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_unknown_function(daemon):
    with pytest.raises(ClientError) as e:
        daemon.invoke("does-not-exist", {})
    err = e.value.response
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert err["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:does-not-exist")


def test_oversized_request(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip)
    with pytest.raises(ClientError) as e:
        daemon.invoke(fname, json.dumps({"x": "a" * 6291456}).encode())
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Still serving.
    assert daemon.invoke(fname, {"ok": True})["status"] == 200


def test_oversized_response(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="big_response:7000000", memory=512)
    r = daemon.invoke(fname, {})
    assert r["function_error"] == "Unhandled"
    assert json.loads(r["payload"]) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes)."}


def test_response_at_the_limit_is_accepted(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="big_response:6291556", memory=512)
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None
    assert len(r["payload"]) == 6291556


def test_non_json_payload(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip)
    with pytest.raises(ClientError) as e:
        daemon.invoke(fname, b"this is not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_name_forms_and_dry_run(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    for name in (fname, f"{fname}:$LATEST", f"000000000000:function:{fname}", arn):
        assert json.loads(daemon.invoke(name, {"k": name})["payload"]) == {"k": name}
    r = daemon.client().invoke(FunctionName=fname, InvocationType="DryRun")
    assert r["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        daemon.invoke(f"{fname}:7", {})
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_runtime_api_headers_and_environment(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="deadline", memory=512, timeout=7,
                  env={"MY_VAR": "hello"})
    r = json.loads(daemon.invoke(fname, {})["payload"])
    headers = {k.lower(): v for k, v in r["headers"].items()}
    assert headers["lambda-runtime-invoked-function-arn"].endswith(f":function:{fname}")
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
    assert 6000 < r["remaining_ms"] <= 7000
    daemon.deploy(fname + "-env", payload_zip, handler="print_env", memory=512,
                  env={"MY_VAR": "hello"})
    env = json.loads(daemon.invoke(fname + "-env", {})["payload"])
    assert env["MY_VAR"] == "hello"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname + "-env"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fname}-env"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["_HANDLER"] == "print_env"
    assert env["AWS_REGION"] == "us-east-1"
    assert "AWS_EXECUTION_ENV" not in env  # not set for provided runtimes


def test_client_context_is_delivered(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="deadline")
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r = daemon.client().invoke(FunctionName=fname, Payload=b"{}", ClientContext=ctx)
    headers = {k.lower(): v for k, v in json.loads(r["Payload"].read())["headers"].items()}
    assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"k": "v"}}


def test_chunked_response_from_runtime(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="chunked_echo")
    event = {"data": "x" * 100000}
    assert json.loads(daemon.invoke(fname, event)["payload"]) == event


def test_second_response_is_refused(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="double_response")
    r = daemon.invoke(fname, {})
    assert json.loads(r["payload"]) == {"response": "first"}
    assert daemon.invoke(fname, {})["status"] == 200  # the environment keeps working
    # The payload prints the status of its second POST after it returns (between invocations),
    # so read the whole log stream rather than one invocation's tail.
    stream = daemon.log_streams(fname)[0]["logStreamName"]
    import urllib.parse
    deadline = time.time() + 5
    text = ""
    while time.time() < deadline and "second_status" not in text:
        _, _, body = daemon.http("GET", f"/kindling/v1/functions/{fname}/log-streams/"
                                 + urllib.parse.quote(stream, safe=""))
        text = body.decode()
        time.sleep(0.05)
    assert "double_response: first_status=202 second_status=403" in text


def test_twenty_parallel_invocations_use_twenty_environments(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="sleep:300", memory=128)
    with cf.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda i: daemon.invoke(fname, {"i": i}, tail=True), range(20)))
    assert all(r["status"] == 200 and r["function_error"] is None for r in results)
    assert all(json.loads(r["payload"]) == {"slept_ms": 300} for r in results)
    assert all("Init Duration" in kh.report_line(r["log"]) for r in results)
    assert len(daemon.log_streams(fname)) == 20


def test_memory_is_measured_not_constant(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="memhog:100", memory=1024)
    r = daemon.invoke(fname, {}, tail=True)
    used = int(re.search(r"Max Memory Used: (\d+) MB", kh.report_line(r["log"])).group(1))
    assert used >= 100
    daemon.deploy(fname + "-small", payload_zip, handler="noop", memory=1024)
    r = daemon.invoke(fname + "-small", {}, tail=True)
    small = int(re.search(r"Max Memory Used: (\d+) MB", kh.report_line(r["log"])).group(1))
    assert small < 50


def test_stdout_flood_is_capped_and_daemon_keeps_serving(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip, handler="stdout_flood:200", memory=512, timeout=60)
    r = daemon.invoke(fname, {})
    assert r["function_error"] is None
    streams = daemon.log_streams(fname)
    assert len(streams) == 1
    assert streams[0]["storedBytes"] <= (64 << 20) + 200
    assert daemon.invoke(fname, {})["status"] == 200


def test_metrics_endpoint(daemon, fname, payload_zip):
    daemon.deploy(fname, payload_zip)
    daemon.invoke(fname, {})
    daemon.invoke(fname, {})
    text = daemon.metrics()
    assert f'kindling_invocations_total{{function="{fname}"}} 2' in text
    assert f'kindling_cold_starts_total{{function="{fname}"}} 1' in text
    assert "kindling_invoke_duration_seconds_bucket" in text
