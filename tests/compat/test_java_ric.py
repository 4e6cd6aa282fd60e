"""AWS's official Java runtime interface client (com.amazonaws:aws-lambda-java-runtime-interface-
client 2.10.1 from Maven Central, unmodified) running a Java RequestHandler against kindling, as
a provided.al2023 function whose bootstrap starts OpenJDK 17 with the RIC as main class
(tests/compat/functions/java, packaged by `scripts/build-compat.sh java`).

Cold invoke (REPORT carries "Init Duration"), warm invoke, a failing invoke (the client's own
error JSON passed through: errorMessage/errorType/stackTrace) and a warm invoke after it.
Uses the `daemon` fixture from tests/conftest.py."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from compat_common import BUILD_DIR, REPO

ZIP = BUILD_DIR / "java.zip"


@pytest.fixture(scope="module")
def java_zip():
    if os.environ.get("KINDLING_COMPAT_NO_BUILD") != "1":
        proc = subprocess.run([str(REPO / "scripts" / "build-compat.sh"), "java"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=1200)
        if proc.returncode != 0:
            pytest.fail("scripts/build-compat.sh java failed:\n" + proc.stdout[-4000:])
    if not ZIP.is_file():
        pytest.skip(f"{ZIP} not built (run scripts/build-compat.sh java)")
    if not any(p.startswith("java-17-openjdk") for p in os.listdir("/usr/lib/jvm")):
        pytest.skip("OpenJDK 17 is not installed under /usr/lib/jvm")
    return ZIP


def _report(log):
    reports = [line for line in (log or "").splitlines() if line.startswith("REPORT RequestId:")]
    assert reports, f"no REPORT line in the log tail:\n{log}"
    return reports[-1]


def test_official_java_ric_on_provided_al2023(daemon, java_zip):
    name = "compat-java-ric"
    daemon.deploy(name, java_zip.read_bytes(), "provided.al2023",
                  "example.CompatHello::handleRequest", memory=256, timeout=30)

    cold = daemon.invoke(name, b'{"name":"cold"}', tail=True)
    assert cold["status"] == 200
    assert cold["function_error"] is None, cold["payload"]
    rid = cold["headers"]["x-amzn-requestid"]
    assert json.loads(cold["payload"]) == {"message": "hello cold", "request_id": rid}
    assert "Init Duration" in _report(cold["log"])
    assert f"hello from the official Java RIC, request {rid}" in cold["log"]

    warm = daemon.invoke(name, b'{"name":"warm"}', tail=True)
    assert warm["function_error"] is None, warm["payload"]
    assert json.loads(warm["payload"])["message"] == "hello warm"
    assert "Init Duration" not in _report(warm["log"])

    bad = daemon.invoke(name, b'{"name":"bad"}', tail=True)
    assert bad["function_error"] == "Unhandled"
    body = json.loads(bad["payload"])
    assert body["errorType"] == "example.CompatHello$HelloError"
    assert body["errorMessage"] == "fail requested for bad"
    assert body["stackTrace"][0].startswith("example.CompatHello.handleRequest(CompatHello.java:")

    after = daemon.invoke(name, b'{"name":"again"}', tail=True)
    assert after["function_error"] is None, after["payload"]
    assert "Init Duration" not in _report(after["log"])
