"""Every example in every registered language (tests/pylib/examples.py), deployed with boto3 and
invoked cold then warm against the exact expected answers; one handler exception per language.

The answers are the same in every language:
- hello: {"message": "Hello, <event.name or 'world'>!", "request_id": <the request id>}
- cpu: sum of i*i for i in 0..n-1 modulo 2^64, as a decimal string (n = 1000, 3,000,000 and
  4,000,000; the last one wraps past 2^64, so 64-bit overflow handling is checked too)
- json: examples/data/generate_document.py's expected() of examples/data/document.json
- heavy-init: {"items": <positive int>, "checksum": <non-empty>}, identical cold and warm
The first invoke of each function must be a cold start (REPORT carries "Init Duration") and the
following ones warm (no "Init Duration").
"""
import importlib.util
import json

import pytest
from botocore.exceptions import ClientError

import examples as ex
import kindling_harness as kh

DOCUMENT = (ex.EXAMPLES / "data" / "document.json").read_bytes()


def _load_generator():
    path = ex.EXAMPLES / "data" / "generate_document.py"
    spec = importlib.util.spec_from_file_location("generate_document", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


JSON_EXPECTED = _load_generator().expected(json.loads(DOCUMENT))


def cpu_expected(n: int) -> str:
    """The cpu example's answer, from Python's exact integers: sum(i*i) = (n-1)n(2n-1)/6."""
    return str((n - 1) * n * (2 * n - 1) // 6 % 2**64)


def test_reference_answers_are_right():
    # The references themselves, checked the slow way, so a wrong reference cannot pass.
    for n in (0, 1, 2, 1000, 100_003):
        assert cpu_expected(n) == str(sum(i * i for i in range(n)) % 2**64)
    assert cpu_expected(1000) == "332833500"
    assert int(cpu_expected(4_000_000)) < sum(i * i for i in range(4_000_000))  # it wraps
    assert JSON_EXPECTED["count"] == 1300 and len(JSON_EXPECTED["top3"]) == 3


def _hello(name):
    expected_name = name or "world"
    payload = {"name": name} if name else {}

    def check(body, request_id):
        assert body == {"message": f"Hello, {expected_name}!", "request_id": request_id}
    return payload, check


def _equals(value):
    def check(body, request_id):
        assert body == value
    return check


def _steps(lang, kind):
    """[(payload, check(body, request_id))]: the first is the cold invoke, the others warm."""
    if kind == "hello":
        return [_hello("kindling"), _hello(None), _hello("again")]
    if kind == "cpu":
        return [({"n": n}, _equals(cpu_expected(n))) for n in (1000, 3_000_000, 4_000_000)]
    if kind == "json":
        return [(DOCUMENT, _equals(JSON_EXPECTED))] * 2
    if kind == "heavy-init":
        known = ex.LANGUAGES[lang].heavy_init
        first = {}

        def check(body, request_id):
            assert set(body) == {"items", "checksum"}, body
            assert isinstance(body["items"], int) and body["items"] > 0, body
            assert body["checksum"] not in ("", 0, None), body
            if known is not None:
                assert body == known
            assert body == first.setdefault("answer", body)  # warm answers the cold one's
        return [({}, check)] * 3
    raise AssertionError(f"no steps for {kind}")


def _deploy(daemon, name, lang, function):
    """Packages and creates examples/<lang>/<function>; returns the runtime id used."""
    spec = ex.LANGUAGES[lang]
    try:
        code = spec.package(ex.EXAMPLES / lang / function)
    except ex.Unavailable as e:
        pytest.skip(f"{lang}/{function} cannot be packaged here: {e}")
    refused = []
    for runtime in spec.runtimes:
        try:
            daemon.deploy(name, code, runtime=runtime, handler=spec.handler(function),
                          memory=spec.memory, timeout=spec.timeout)
            return runtime
        except ClientError as e:
            message = e.response["Error"]["Message"]
            if "not available on this kindling host" not in message:
                raise
            refused.append(message)
    pytest.skip(f"no {lang} runtime is installed here: " + " | ".join(refused))


@pytest.mark.parametrize("lang,function,kind", ex.registered_examples(),
                         ids=[f"{lang}-{fn}" for lang, fn, _ in ex.registered_examples()])
def test_example_cold_then_warm(daemon, fname, lang, function, kind):
    runtime = _deploy(daemon, fname, lang, function)
    for i, (payload, check) in enumerate(_steps(lang, kind)):
        r = daemon.invoke(fname, payload, tail=True)
        what = f"{lang}/{function} on {runtime}, invoke #{i} ({'cold' if i == 0 else 'warm'})"
        assert r["status"] == 200, what
        assert r["function_error"] is None, f"{what}: {r['payload'][:2000]!r}\n{r['log']}"
        check(json.loads(r["payload"]), r["headers"]["x-amzn-requestid"])
        report = kh.report_line(r["log"])
        if i == 0:
            assert "Init Duration" in report, f"{what} was not a cold start: {report}"
        else:
            assert "Init Duration" not in report, f"{what} was not warm: {report}"


@pytest.mark.parametrize("lang", [lang for lang in ex.LANGUAGES
                                  if (ex.EXAMPLES / lang / "cpu").is_dir()])
def test_handler_exception_shape(daemon, fname, lang):
    runtime = _deploy(daemon, fname, lang, "cpu")
    r = daemon.invoke(fname, {"n": -1}, tail=True)
    assert r["status"] == 200
    assert r["function_error"] == "Unhandled", f"{lang} on {runtime}: {r['payload'][:2000]!r}"
    body = json.loads(r["payload"])
    ex.LANGUAGES[lang].check_error(body, r["headers"]["x-amzn-requestid"])
    # The environment survives a handler exception: the next invoke is warm and answers.
    ok = daemon.invoke(fname, {"n": 1000}, tail=True)
    assert ok["function_error"] is None, ok["payload"][:2000]
    assert json.loads(ok["payload"]) == "332833500"
    assert "Init Duration" not in kh.report_line(ok["log"])


def test_every_example_language_is_registered():
    # An examples/<lang>/ with example functions but no LANGUAGES entry would go untested.
    assert ex.unregistered_languages() == [], (
        "add these languages to tests/pylib/examples.py LANGUAGES")
