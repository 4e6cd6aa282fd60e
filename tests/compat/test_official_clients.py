"""AWS's official runtime interface clients, unmodified, running on kindling as provided.al2023
functions: aws-lambda-go, the Rust lambda_runtime crate, the Node aws-lambda-ric and the
Python awslambdaric (zips built by scripts/build-compat.sh, sources in functions/<client>/).

For each client: a cold invoke (REPORT carries "Init Duration"), a warm invoke (it does not),
a failing invoke (X-Amz-Function-Error: Unhandled, the client's own error JSON passed through
unchanged) and a warm invoke after the failure (the environment survives a handler error).
Uses the `daemon` fixture from tests/conftest.py."""

from __future__ import annotations

import json

import pytest

from compat_common import CLIENTS

ERROR_TYPE = "HelloError"
ERROR_MESSAGE = "fail requested for bad"
# Exact /error bodies of the clients whose error JSON holds no paths (see
# test_clients_fake_api.py for how they were observed); the others are checked key by key.
EXACT_ERROR_PAYLOAD = {
    "go": b'{"errorMessage":"fail requested for bad","errorType":"HelloError"}',
    "rust": b'{"errorType":"HelloError","errorMessage":"fail requested for bad"}',
}
ERROR_KEYS = {
    "go": ["errorMessage", "errorType"],
    "rust": ["errorType", "errorMessage"],
    "node": ["errorType", "errorMessage", "trace"],
    "python": ["errorMessage", "errorType", "requestId", "stackTrace"],
}
# Clients that print the handler's error to stdout/stderr (Rust only logs through tracing,
# which this build leaves out).
PRINTS_ERROR = {"go", "node", "python"}


def _report_line(log: str | None) -> str:
    assert log, "no log tail returned (X-Amz-Log-Type: Tail)"
    reports = [line for line in log.splitlines() if line.startswith("REPORT RequestId:")]
    assert reports, f"no REPORT line in the log tail:\n{log}"
    return reports[-1]


@pytest.mark.parametrize("client_zip", CLIENTS, indirect=True)
def test_official_client_on_provided_al2023(daemon, client_zip):
    client = client_zip.stem
    name = f"compat-{client}"
    daemon.deploy(name, client_zip.read_bytes(), "provided.al2023", "hello", memory=128,
                  timeout=10)

    cold = daemon.invoke(name, b'{"name":"cold"}', tail=True)
    assert cold["status"] == 200
    assert cold["function_error"] is None, cold["payload"]
    assert json.loads(cold["payload"]) == {"message": "hello cold"}
    assert cold["executed_version"] == "$LATEST"
    assert "Init Duration" in _report_line(cold["log"])

    # Sent as soon as the cold answer arrives, often before the client is back in /next (Python
    # and Node take a few ms): like Lambda, the engine must hand it to that environment, not
    # cold-start another.
    warm = daemon.invoke(name, b'{"name":"warm"}', tail=True)
    assert warm["status"] == 200
    assert warm["function_error"] is None, warm["payload"]
    assert json.loads(warm["payload"]) == {"message": "hello warm"}
    assert "Init Duration" not in _report_line(warm["log"])

    bad = daemon.invoke(name, b'{"name":"bad","fail":true}', tail=True)
    assert bad["status"] == 200
    assert bad["function_error"] == "Unhandled"
    if client in EXACT_ERROR_PAYLOAD:
        assert bad["payload"] == EXACT_ERROR_PAYLOAD[client]
    pairs = json.loads(bad["payload"], object_pairs_hook=list)
    assert [key for key, _ in pairs] == ERROR_KEYS[client], bad["payload"]
    body = dict(pairs)
    assert body["errorType"] == ERROR_TYPE
    assert body["errorMessage"] == ERROR_MESSAGE
    if client == "python":
        assert body["stackTrace"] and "app.py" in body["stackTrace"][0]
    if client == "node":
        assert body["trace"][0] == f"{ERROR_TYPE}: {ERROR_MESSAGE}"
    report = _report_line(bad["log"])
    assert "Init Duration" not in report
    if client in PRINTS_ERROR:
        assert ERROR_MESSAGE in bad["log"], bad["log"]

    again = daemon.invoke(name, b'{"name":"again"}', tail=True)
    assert again["function_error"] is None, again["payload"]
    assert json.loads(again["payload"]) == {"message": "hello again"}
    assert "Init Duration" not in _report_line(again["log"])
