"""The official runtime interface clients' bootstraps (built by scripts/build-compat.sh) run
against fake_runtime_api_compat.FakeRuntimeApi: hello, warm hello, error, a 2 MiB response,
and the exact requests each client makes (framing, headers, connection reuse).

These pin down what kindling's real Runtime API server must accept; they need no daemon.
The wire facts asserted here were observed on 2026-11-26 with aws-lambda-go v1.55.1,
lambda_runtime 1.5.0, aws-lambda-ric 3.3.0 (Node 20) and awslambdaric 4.2.2 (Python 3.11)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from compat_common import CLIENTS
from fake_runtime_api_compat import FakeRuntimeApi, extract_zip, launch_bootstrap

WAIT_S = 30.0
ERROR_TYPE = "HelloError"
ERROR_MESSAGE = "fail requested for bad"
# Keys of each client's /error body, in the client's own order.
ERROR_KEYS = {
    "go": ["errorMessage", "errorType"],
    "rust": ["errorType", "errorMessage"],
    "node": ["errorType", "errorMessage", "trace"],
    "python": ["errorMessage", "errorType", "requestId", "stackTrace"],
}
USER_AGENT_PREFIX = {
    "go": "aws-lambda-go/go",
    "rust": "aws-lambda-rust/",
    "node": "AWS_Lambda_Cpp/",  # the Node RIC's native client is aws-lambda-cpp 0.2.8
    "python": "aws-lambda-python/",
}


def _pairs(body: bytes) -> list[tuple[str, object]]:
    return json.loads(body, object_pairs_hook=list)


@pytest.fixture
def running(client_zip: Path, tmp_path: Path):
    """(client, api, process) with the client's bootstrap polling a fresh fake API."""
    client = client_zip.stem
    task_root = extract_zip(client_zip, tmp_path / "task")
    api = FakeRuntimeApi(function_name=f"compat-{client}").start()
    proc = launch_bootstrap(task_root, api.address, tmp_path / "out.log",
                            function_name=f"compat-{client}")
    yield client, api, proc
    proc.kill()
    proc.wait()
    api.stop()


def _invoke(api: FakeRuntimeApi, proc, payload: bytes):
    inv = api.invoke(payload)
    if not inv.wait(WAIT_S):
        pytest.fail(f"no answer to {payload!r} within {WAIT_S}s (exit code {proc.poll()})")
    return inv


@pytest.mark.parametrize("client_zip", CLIENTS, indirect=True)
def test_hello_warm_error_against_fake(running):
    client, api, proc = running
    cold = _invoke(api, proc, b'{"name":"cold"}')
    assert cold.kind == "response"
    assert cold.json() == {"message": "hello cold"}
    warm = _invoke(api, proc, b'{"name":"warm"}')
    assert warm.kind == "response"
    assert warm.json() == {"message": "hello warm"}

    bad = _invoke(api, proc, b'{"name":"bad","fail":true}')
    assert bad.kind == "error"
    pairs = _pairs(bad.body)
    assert [k for k, _ in pairs] == ERROR_KEYS[client]
    body = dict(pairs)
    assert body["errorType"] == ERROR_TYPE
    assert body["errorMessage"] == ERROR_MESSAGE
    if client == "python":
        assert body["requestId"] == bad.request_id

    after = _invoke(api, proc, b'{"name":"again"}')  # the environment survives a handler error
    assert after.json() == {"message": "hello again"}
    assert proc.poll() is None


@pytest.mark.parametrize("client_zip", CLIENTS, indirect=True)
def test_wire_requests(running):
    """What each client puts on the wire, as the real Runtime API server will see it."""
    client, api, proc = running
    ok = _invoke(api, proc, b'{"name":"wire"}')
    bad = _invoke(api, proc, b'{"fail":true}')
    time.sleep(0.2)  # let the client send its next /next

    nexts = api.requests_for("/invocation/next")
    assert len(nexts) >= 3
    for req in nexts:
        assert req.method == "GET" and req.version == "HTTP/1.1"
        assert req.framing == "none" and req.body == b""
        assert req.header("User-Agent").startswith(USER_AGENT_PREFIX[client])

    # One persistent connection carries /next, /response, /next, /error, /next.
    assert len(set(api.connection_ids())) == 1

    for inv in (ok, bad):
        req = inv.request
        assert req.version == "HTTP/1.1"
        assert req.header("Expect") is None
        if client == "go":
            # net/http with req.Trailer set: chunked, trailers declared, trailer section empty.
            assert req.framing == "chunked"
            assert req.header("Content-Length") is None
            assert req.header("Trailer") == ("Lambda-Runtime-Function-Error-Body,"
                                            "Lambda-Runtime-Function-Error-Type")
            assert req.trailers == []
            assert req.chunk_sizes[-1] == 0
        else:
            assert req.framing == "content-length"
            assert req.header("Transfer-Encoding") is None
            assert int(req.header("Content-Length")) == len(req.body)

    content_type = {"go": "application/json", "rust": None, "node": "application/json",
                    "python": "application/json"}[client]
    assert ok.request.header("Content-Type") == content_type
    # Only Rust names an error type in a header, and in lower case.
    error_type_header = {"go": None, "rust": "unhandled", "node": None, "python": None}[client]
    assert bad.request.header("Lambda-Runtime-Function-Error-Type") == error_type_header
    xray = bad.request.header("Lambda-Runtime-Function-XRay-Error-Cause")
    if client == "rust":
        assert xray is None
    else:
        cause = json.loads(xray)
        assert cause["exceptions"][0]["type"] == ERROR_TYPE


@pytest.mark.parametrize("client_zip", CLIENTS, indirect=True)
def test_large_response_framing(running):
    """A 2 MiB response: no Expect: 100-continue (curl would add it above 1 MiB unless the
    client blanks it); Go's chunk sizes show how its body arrives."""
    client, api, proc = running
    pad = 2 * 1024 * 1024
    inv = _invoke(api, proc, json.dumps({"name": "big", "pad": pad}).encode())
    assert inv.kind == "response"
    assert inv.json() == {"message": "hello big", "pad": "x" * pad}
    req = inv.request
    assert req.expect_continue is False
    if client == "go":
        assert req.framing == "chunked" and len(req.chunk_sizes) > 2
    else:
        assert req.framing == "content-length"


@pytest.mark.parametrize("client_zip", CLIENTS, indirect=True)
def test_client_context_and_identity_headers(running):
    """Optional /next headers the engine forwards: the clients accept them and keep going."""
    client, api, proc = running
    inv = api.invoke(b'{"name":"ctx"}', extra_headers={
        "Lambda-Runtime-Client-Context":
            '{"client":{"installation_id":"i1","app_title":"t","app_version_name":"1",'
            '"app_version_code":"1","app_package_name":"p"},"custom":{"k":"v"},"env":{"e":"1"}}',
        "Lambda-Runtime-Cognito-Identity":
            '{"cognitoIdentityId":"id1","cognitoIdentityPoolId":"pool1"}',
    })
    assert inv.wait(WAIT_S), f"no answer (exit code {proc.poll()})"
    assert inv.kind == "response", inv.body
    assert inv.json() == {"message": "hello ctx"}
