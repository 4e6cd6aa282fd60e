"""The compiled-language examples (examples/cpp, examples/go, examples/rust) on the real daemon.

The setup builds them from source with scripts/build-examples.sh (cached: a no-op when nothing
changed; the zips land in $KINDLING_EXAMPLES_OUT, else build/examples): C++ against the installed
kindling C++ SDK (find_package), Go with aws-lambda-go, Rust with lambda_runtime. Every example
is deployed with boto3 as provided.al2023 and invoked cold then warm with the exact expected
answer, then with an input it rejects (its handler error: errorType InvalidInput)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kindling_harness as kh

sys.path.insert(0, str(kh.REPO / "examples" / "data"))
import generate_document  # noqa: E402

OUT = Path(os.environ.get("KINDLING_EXAMPLES_OUT", kh.REPO / "build" / "examples"))
LANGS = ["cpp", "go", "rust"]
FUNCTIONS = ["hello", "cpu", "json", "heavy-init"]
DOCUMENT = (kh.REPO / "examples" / "data" / "document.json").read_bytes()
MOD64 = 2**64


def cpu_answer(n: int) -> str:
    return str(sum(i * i for i in range(n)) % MOD64)


def heavy_init_answer() -> dict:
    """The table every heavy-init example builds at init: value(i) = x ^ (x >> 29) with
    x = i * 0x9E3779B97F4A7C15 mod 2^64, for 4,000,000 items; checksum = sum mod 1e9+7."""
    modulus, checksum = 1_000_000_007, 0
    for i in range(4_000_000):
        x = (i * 0x9E3779B97F4A7C15) % MOD64
        checksum = (checksum + (x ^ (x >> 29)) % modulus) % modulus
    return {"items": 4_000_000, "checksum": checksum}


@pytest.fixture(scope="module")
def built():
    """Builds (or finds up to date) every example zip; fails loudly if a build fails."""
    r = subprocess.run([str(kh.REPO / "scripts" / "build-examples.sh")], capture_output=True,
                       text=True, timeout=1800, env={**os.environ, "KINDLING_EXAMPLES_OUT": str(OUT)})
    assert r.returncode == 0, f"build-examples.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return OUT


@pytest.fixture(scope="module")
def heavy_expected():
    return heavy_init_answer()


def _cases(fn: str, heavy_expected: dict):
    """(cold event, cold check, warm event, warm check, bad event, error message)."""
    if fn == "hello":
        return ({"name": "cold"}, lambda out, rid: out == {"message": "Hello, cold!",
                                                         "request_id": rid},
                {}, lambda out, rid: out == {"message": "Hello, world!", "request_id": rid},
                {"name": 42}, "name must be a string")
    if fn == "cpu":
        return ({"n": 1000}, lambda out, rid: out == "332833500",
                {"n": 1_000_003}, lambda out, rid: out == cpu_answer(1_000_003),
                {"n": -5}, "n must be a non-negative integer")
    if fn == "json":
        expected = generate_document.expected(json.loads(DOCUMENT))
        return (DOCUMENT, lambda out, rid: out == expected,
                DOCUMENT, lambda out, rid: out == expected,
                {"not": "an array"}, "the event must be an array of records")
    assert fn == "heavy-init"
    return ({}, lambda out, rid: out == heavy_expected,
            {"again": True}, lambda out, rid: out == heavy_expected,
            [1, 2, 3], "the event must be a JSON object")


def _report(log: str | None) -> str:
    assert log, "no log tail returned (LogType=Tail)"
    return kh.report_line(log)


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("lang", LANGS)
def test_native_example(daemon, built, heavy_expected, lang, fn):
    zip_path = built / lang / f"{fn}.zip"
    assert zip_path.is_file(), f"{zip_path} was not built"
    name = f"example-{lang}-{fn}"
    daemon.deploy(name, zip_path.read_bytes(), "provided.al2023", handler=fn, memory=256,
                  timeout=30)
    cold_event, cold_ok, warm_event, warm_ok, bad_event, bad_message = _cases(fn, heavy_expected)

    cold = daemon.invoke(name, cold_event, tail=True)
    assert cold["status"] == 200 and cold["function_error"] is None, cold["payload"][:500]
    rid = cold["headers"].get("x-amzn-requestid")
    assert cold_ok(json.loads(cold["payload"]), rid), cold["payload"][:500]
    assert "Init Duration" in _report(cold["log"])

    warm = daemon.invoke(name, warm_event, tail=True)
    assert warm["status"] == 200 and warm["function_error"] is None, warm["payload"][:500]
    rid = warm["headers"].get("x-amzn-requestid")
    assert warm_ok(json.loads(warm["payload"]), rid), warm["payload"][:500]
    assert "Init Duration" not in _report(warm["log"])

    bad = daemon.invoke(name, bad_event, tail=True)
    assert bad["status"] == 200
    assert bad["function_error"] == "Unhandled", bad["payload"]
    body = json.loads(bad["payload"])
    assert body["errorType"] == "InvalidInput" and body["errorMessage"] == bad_message, body
    if lang == "cpp":  # the C++ SDK's error shape, exactly
        assert bad["payload"] == json.dumps(
            {"errorMessage": bad_message, "errorType": "InvalidInput", "stackTrace": []},
            separators=(",", ":")).encode()

    # The environment survives its handler error and stays warm.
    again = daemon.invoke(name, warm_event, tail=True)
    assert again["function_error"] is None, again["payload"][:500]
    assert warm_ok(json.loads(again["payload"]), again["headers"].get("x-amzn-requestid"))
    assert "Init Duration" not in _report(again["log"])
    daemon.client().delete_function(FunctionName=name)
